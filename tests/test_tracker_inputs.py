"""Bad input to the tracker: each case gives a clear error or a documented behaviour.

Uses a tiny deterministic model (no weights) that implements the memorize/track protocol.
"""
import numpy as np
import pytest
import torch

from stmtrack_plugin.config import load_parameters
from stmtrack_plugin.tracking import STMTracker, TrackResult


class ColourModel:
    """Minimal protocol implementation: memory = mean colour of the foreground; score = how well
    each cell's colour matches it; boxes are 30x20 around each cell centre."""

    def __init__(self, size=25, offset=48, stride=8):
        c = offset + stride * torch.arange(size, dtype=torch.float32)
        cy, cx = torch.meshgrid(c, c, indexing="ij")
        self.cx, self.cy = cx.reshape(-1), cy.reshape(-1)
        self.idx = c.long()
        self.memorize_calls = 0

    def memorize(self, frames, fg_bg):
        self.memorize_calls += 1
        mean = (frames * fg_bg).sum(dim=(2, 3)) / fg_bg.sum(dim=(2, 3)).clamp(min=1)
        return mean.t().reshape(1, 3, -1, 1, 1)

    def track(self, query, memory):
        m = memory.mean(dim=2).reshape(3)
        idx = self.idx.clamp(max=query.shape[-1] - 1)
        local = query[0][:, idx][:, :, idx].reshape(3, -1).t()
        score = torch.exp(-((local - m) ** 2).sum(1) / 3000.0)
        boxes = torch.stack([self.cx - 14.5, self.cy - 9.5, self.cx + 14.5, self.cy + 9.5], 1)
        return score[None], boxes[None]


def frame(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    img[40:70, 60:100] = (200, 120, 40)
    return img


@pytest.fixture
def tracker():
    return STMTracker(ColourModel(), load_parameters("default"))


def test_track_returns_a_typed_result(tracker):
    tracker.initialize(frame(), [60, 40, 40, 30])
    r = tracker.track(frame(seed=1))
    assert isinstance(r, TrackResult)
    assert len(r.box) == 4 and all(isinstance(v, float) for v in r.box)
    assert isinstance(r.score, float) and r.frame_index == 1 and r.num_memory == 1
    assert r.gate is None and r.score_map is None


def test_track_before_initialize(tracker):
    with pytest.raises(RuntimeError, match="before initialize"):
        tracker.track(frame())


@pytest.mark.parametrize("box,match", [
    ([10, 10, 0, 20], "width and height must be > 0"),
    ([10, 10, 20, -1], "width and height must be > 0"),
    ([np.nan, 10, 20, 20], "NaN or infinite"),
    ([10, 10, np.inf, 20], "NaN or infinite"),
    ([500, 10, 20, 20], "does not overlap"),
    ([-30, 10, 20, 20], "does not overlap"),
    ([10, 10, 20], "4 numbers"),
    ("abc", "4 numbers"),
    ([0, 0, 1e6, 1e6], "too large for the 160x120 frame"),
    ([0, 0, 1e20, 30], "too large"),
    ([0, 0, 1e39, 1e39], "too large"),
    ([-1e20, -1e20, 1e20 + 50, 1e20 + 50], "too large"),
    ([10, 10, 1e-300, 1e-300], "must be >= 0.001 pixels"),
])
def test_bad_init_box(tracker, box, match):
    with pytest.raises(ValueError, match=match):
        tracker.initialize(frame(), box)


def test_largest_accepted_box_tracks(tracker):
    tracker.initialize(frame(), [-2400, -1800, 16 * 160, 16 * 120])
    assert np.all(np.isfinite(tracker.track(frame()).box))


def test_box_partly_outside_is_accepted(tracker):
    tracker.initialize(frame(), [-10, -10, 40, 30])
    assert np.all(np.isfinite(tracker.track(frame()).box))


def test_grayscale_frames_are_expanded_like_imread(tracker):
    gray = frame()[:, :, 0].copy()
    tracker.initialize(gray, [60, 40, 40, 30])
    r1 = tracker.track(gray[:, :, None])
    other = STMTracker(ColourModel(), load_parameters("default"))
    other.initialize(np.repeat(gray[:, :, None], 3, axis=2), [60, 40, 40, 30])
    assert other.track(np.repeat(gray[:, :, None], 3, axis=2)).box == r1.box


@pytest.mark.parametrize("bad,exc,match", [
    (np.zeros((120, 160, 4), np.uint8), ValueError, "RGBA/BGRA"),
    (np.zeros((120, 160, 3), np.uint16), TypeError, "uint8"),
    (np.zeros((120, 160, 3), np.float32), TypeError, "uint8"),
    (np.zeros((120, 160, 3, 1), np.uint8), ValueError, "HxWx3"),
    (np.zeros((0, 160, 3), np.uint8), ValueError, "empty"),
    ([[1, 2, 3]], TypeError, "numpy array"),
])
def test_bad_frames(tracker, bad, exc, match):
    with pytest.raises(exc, match=match):
        tracker.initialize(bad, [10, 10, 20, 20])
    tracker.initialize(frame(), [60, 40, 40, 30])
    with pytest.raises(exc, match=match):
        tracker.track(bad)


def test_non_contiguous_frames_give_the_same_result(tracker):
    img = frame()
    view = np.ascontiguousarray(img[:, ::-1])[:, ::-1]  # same pixels, negative stride
    assert not view.flags.c_contiguous
    tracker.initialize(view, [60, 40, 40, 30])
    r_view = tracker.track(view)
    tracker.initialize(img, [60, 40, 40, 30])
    assert tracker.track(img).box == r_view.box


def test_drawing_on_frames_after_track_changes_nothing(tracker):
    """The frame is memorized at the next track() call: the tracker must keep its own copy."""
    frames = [frame(seed=k) for k in range(6)]
    tracker.initialize(frames[0], [60, 40, 40, 30])
    clean = [tracker.track(f).box for f in frames[1:]]
    frames = [frame(seed=k) for k in range(6)]
    tracker.initialize(frames[0], [60, 40, 40, 30])
    frames[0][:] = 255  # a caller drawing on (here: overwriting) frames it already passed in
    drawn = []
    for f in frames[1:]:
        drawn.append(tracker.track(f).box)
        f[:] = 0
    assert drawn == clean


def test_frame_size_change_is_refused(tracker):
    tracker.initialize(frame(), [60, 40, 40, 30])
    with pytest.raises(ValueError, match="frame size changed from 160x120 to 161x120"):
        tracker.track(frame(w=161))


def test_reinitialize_resets_the_memory(tracker):
    tracker.initialize(frame(), [60, 40, 40, 30])
    for _ in range(6):
        tracker.track(frame())
    tracker.initialize(frame(), [60, 40, 40, 30])
    r = tracker.track(frame())
    assert r.frame_index == 1 and r.memory_frames == (0,)


def test_one_model_serves_several_trackers():
    model = ColourModel()
    params = load_parameters("default")
    a, b = STMTracker(model, params), STMTracker(model, params)
    a.initialize(frame(), [60, 40, 40, 30])
    b.initialize(frame(seed=3), [20, 20, 30, 30])
    ra = [a.track(frame(seed=s)).box for s in range(3)]
    solo = STMTracker(ColourModel(), params)
    solo.initialize(frame(), [60, 40, 40, 30])
    b.track(frame(seed=4))
    assert [solo.track(frame(seed=s)).box for s in range(3)] == ra


def test_crop_size_that_does_not_fit_the_model(tracker):
    t = STMTracker(ColourModel(), load_parameters("default", crop_size=129))
    t.initialize(frame(), [60, 40, 40, 30])
    with pytest.raises(ValueError, match="crop_size does not match the model"):
        t.track(frame())


def test_missing_weights(monkeypatch, tmp_path):
    from stmtrack_plugin import weights as builtin

    monkeypatch.delenv("STMTRACK_WEIGHTS", raising=False)
    monkeypatch.setattr(builtin, "BUILTIN", builtin.BuiltinModel(folder=str(tmp_path)))  # none
    with pytest.raises(FileNotFoundError, match="no weights given and the built-in"):
        STMTracker.from_params(load_parameters("default"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        STMTracker.from_params(load_parameters("default"), weights=str(tmp_path / "nope.pkl"))
    monkeypatch.setenv("STMTRACK_WEIGHTS", str(tmp_path / "env.pkl"))
    with pytest.raises(FileNotFoundError, match="STMTRACK_WEIGHTS does not exist"):
        STMTracker.from_params(load_parameters("default"))


def test_half_precision_storage_is_opt_in():
    t = STMTracker(ColourModel(), load_parameters("default", storage_dtype="float16"))
    t.initialize(frame(), [60, 40, 40, 30])
    for s in range(3):
        r = t.track(frame(seed=s))
    assert all(t.memory.get(f).dtype == torch.float16 for f in t.memory.frames)
    assert np.all(np.isfinite(r.box))
    default = STMTracker(ColourModel(), load_parameters("default"))
    default.initialize(frame(), [60, 40, 40, 30])
    default.track(frame())
    assert all(default.memory.get(f).dtype == torch.float32 for f in default.memory.frames)
