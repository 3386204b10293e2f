"""Low-memory mode (``memory_mode="crops"``): uint8 crops re-encoded on demand, same output."""
import json

import numpy as np
import pytest
import torch

from stmtrack_plugin.config import load_parameters
from stmtrack_plugin.tracking import STMTracker
from stmtrack_plugin.tracking.crop_memory import CropMemoryBank, StoredCrop
from stmtrack_plugin.utils.io import read_image_bgr
from parity_env import require_fixture_environment
from test_parity_standin import PARAMS, check_run


def _entry(value):
    crop = np.full((4, 4, 3), value, dtype=np.uint8)
    return StoredCrop(crop, np.array([2.0, 2.0], dtype=np.float32), 1.0)


def _encode(entry):
    return torch.full((1, 2, 1, 1, 1), float(entry.crop[0, 0, 0]))


def test_bank_encodes_only_what_the_last_query_did_not_read():
    bank = CropMemoryBank(_encode)
    for f in range(6):
        bank.add(f, _entry(f))
    out = bank.gather([5, 0, 1, 5])
    assert out.shape == (1, 2, 4, 1, 1) and out[0, 0, :, 0, 0].tolist() == [5, 0, 1, 5]
    assert bank.encodes == 3 and bank.cached_frames == [0, 1, 5]
    bank.gather([0, 1, 3])
    assert bank.encodes == 4 and bank.cached_frames == [0, 1, 3]  # 5 left the cache
    bank.discard([1])
    assert bank.frames == [0, 2, 3, 4, 5] and bank.cached_frames == [0, 3] and 1 not in bank
    assert bank.nbytes() == 5 * _entry(0).nbytes + 2 * 2 * 4
    with pytest.raises(KeyError, match="frame 1 is not in the memory bank"):
        bank.gather([1])
    with pytest.raises(ValueError, match="uint8"):
        bank.add(9, StoredCrop(np.zeros((4, 4, 3), np.float32), np.ones(2, np.float32), 1.0))
    bank.clear()
    assert len(bank) == 0 and bank.cached_frames == []


def test_crops_mode_rejects_feature_storage_options():
    with pytest.raises(ValueError, match="memory_mode"):
        load_parameters("default", memory_mode="pixels")
    with pytest.raises(ValueError, match="storage_dtype and offload_after"):
        load_parameters("default", memory_mode="crops", storage_dtype="float16")


def _run(tracker, frames, init_box):
    tracker.initialize(read_image_bgr(frames[0]), init_box)
    return [tracker.track(read_image_bgr(f)) for f in frames[1:]]


def _assert_identical(a, b):
    for k, (ra, rb) in enumerate(zip(a, b)):
        assert ra.box == rb.box and ra.score == rb.score, f"frame {k + 1}"
        assert ra.memory_frames == rb.memory_frames, f"frame {k + 1}"
        if ra.score_map is not None:
            assert np.array_equal(ra.score_map, rb.score_map), f"frame {k + 1}"


@pytest.mark.parametrize("run", ["Crossing__otb", "bag__got10k", "uav_boat1__vot"])
def test_standin_parity_in_crops_mode(run, standin_module, shared_dir, sequences_dir):
    seq, bench = run.split("__")
    meta = json.loads((shared_dir / "parity" / "standin" / f"{run}.json").read_text())
    ref = dict(np.load(shared_dir / "parity" / "standin" / f"{run}.npz"))
    frames = [str(sequences_dir / seq / f) for f in meta["frames"][:meta["n_frames_run"]]]
    require_fixture_environment(meta, frames)
    model = standin_module.StandInModel()
    tracker = STMTracker(model, load_parameters(PARAMS[bench], memory_mode="crops"))
    check_run(tracker, frames, ref, meta["init_box"])
    # bit-identical to the default mode, with at most ~2 encodes per frame on average
    crops = _run(STMTracker(model, load_parameters(PARAMS[bench], memory_mode="crops")),
                 frames, meta["init_box"])
    default = _run(STMTracker(model, load_parameters(PARAMS[bench])), frames, meta["init_box"])
    _assert_identical(crops, default)
    assert tracker.memory.encodes <= 2 * len(frames)
    assert len(tracker.memory.cached_frames) <= load_parameters(PARAMS[bench]).num_segments + 2


def test_tiny_model_crops_mode_is_bit_identical(tiny_model_config, sequences_dir):
    from stmtrack_plugin.model import build_model
    from stmtrack_plugin.model.random_weights import randomize_model

    torch.manual_seed(0)
    model = randomize_model(build_model(tiny_model_config), seed=0).eval()
    frames = sorted(str(p) for p in (sequences_dir / "Crossing" / "img").iterdir())[:60]
    box = [float(v) for v in (sequences_dir / "Crossing" / "groundtruth_rect.txt")
           .read_text().splitlines()[0].replace(",", " ").split()]
    params = dict(crop_size=129, model=tiny_model_config)
    crops_tracker = STMTracker(model, load_parameters("otb", memory_mode="crops", **params),
                               debug=True)
    crops = _run(crops_tracker, frames, box)
    default_tracker = STMTracker(model, load_parameters("otb", **params), debug=True)
    default = _run(default_tracker, frames, box)
    _assert_identical(crops, default)
    assert crops_tracker.memory.frames == default_tracker.memory.frames
    assert crops_tracker.memory.encodes < 2 * len(frames)


@pytest.fixture(scope="module")
def seeded_run(shared_dir):
    from stmtrack_plugin.model import build_model
    from stmtrack_plugin.model.random_weights import randomize_model

    torch.manual_seed(0)
    model = randomize_model(build_model(), seed=0).eval()
    track_dir = shared_dir / "parity" / "track"
    meta = json.loads((track_dir / "synth__vot.json").read_text())
    ref = dict(np.load(track_dir / "synth__vot.npz"))
    frames = [shared_dir / "parity" / "synth" / name for name in meta["frames"][:9]]
    require_fixture_environment(meta, frames)
    return model, meta, ref, frames


@pytest.mark.torch_threads(2)
def test_seeded_parity_short_in_crops_mode(seeded_run):
    """The seeded full-size model: crops mode within the fixture's tolerances."""
    model, meta, ref, frames = seeded_run
    crops = _run(STMTracker(model, load_parameters("vot2018", memory_mode="crops"), debug=True),
                 frames, meta["init_box"])
    for k, r in enumerate(crops):
        np.testing.assert_allclose(r.score_map, ref["score"][k], rtol=0, atol=2e-5)
        assert r.num_memory == ref["num_mem"][k] and r.best_index == ref["best_idx"][k]
        np.testing.assert_allclose(r.box, ref["boxes"][k + 1], rtol=0, atol=1e-3)


@pytest.mark.slow
@pytest.mark.torch_threads(2)
def test_seeded_crops_mode_is_bit_identical_to_default(seeded_run):
    model, meta, ref, frames = seeded_run
    crops = _run(STMTracker(model, load_parameters("vot2018", memory_mode="crops"), debug=True),
                 frames, meta["init_box"])
    default = _run(STMTracker(model, load_parameters("vot2018"), debug=True), frames,
                   meta["init_box"])
    _assert_identical(crops, default)


def test_crop_slots_are_reused_after_discard(monkeypatch):
    from stmtrack_plugin.tracking import crop_memory

    monkeypatch.setattr(crop_memory, "SLAB_BYTES", 3 * 48)  # 3 crops of 4x4x3 per block
    bank = CropMemoryBank(_encode)
    for f in range(5):
        bank.add(f, _entry(f))
    assert len(bank._slots._slabs) == 2
    bank.discard([1, 2])
    bank.add(5, _entry(5))
    bank.add(6, _entry(6))
    assert len(bank._slots._slabs) == 2  # the freed slots took frames 5 and 6
    assert bank.gather([0, 3, 4, 5, 6])[0, 0, :, 0, 0].tolist() == [0, 3, 4, 5, 6]
    bank.add(5, _entry(9))  # replacing a frame frees its old slot
    assert bank.gather([5])[0, 0, 0, 0, 0].item() == 9 and len(bank._slots._free) == 0
    with pytest.raises(ValueError, match="crop shape"):
        bank.add(7, StoredCrop(np.zeros((2, 2, 3), np.uint8), np.ones(2, np.float32), 1.0))
