"""``TrackerParams.parallel_stages``: the query encoder beside the memory side and the two head
towers at once, on a worker thread in the caller's torch modes; the output bit for bit the same."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from stmtrack_plugin.config import TrackerParams, load_parameters
from stmtrack_plugin.interfaces import StagedTrackingModel
from stmtrack_plugin.model import build_model
from stmtrack_plugin.model.inference import prepare_for_inference
from stmtrack_plugin.model.random_weights import randomize_model
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.tracking import STMTracker
from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import load_otb_sequence

CONFIG = model_config_for("googlenet", width_mult=0.25, neck_channels=32, head_channels=32,
                          head_num_convs=3)


def _network(dtype=None):
    return prepare_for_inference(randomize_model(build_model(CONFIG), seed=0).eval(), dtype)


def _record_threads(model, seen):
    """Note the thread, inference mode and autocast state of every query-trunk and box-tower call."""
    def hook(name):
        def note(module, inputs, output):
            seen.append((name, threading.current_thread().name, torch.is_inference_mode_enabled(),
                         torch.is_autocast_enabled("cpu"), output.dtype))
        return note
    model.basemodel_q.register_forward_hook(hook("query trunk"))
    model.head.reg.register_forward_hook(hook("box tower"))
    model.head.cls_ctr.register_forward_hook(hook("cls tower"))


def _track(tracker, seq, frames):
    tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
    return [tracker.track(read_image_bgr(seq.frames[k])) for k in range(1, frames)]


@pytest.mark.parametrize("extra", [{}, {"memory_mode": "crops"}, {"compute_dtype": "bfloat16"}],
                         ids=["features", "crops", "bfloat16"])
def test_parallel_stages_track_bit_for_bit_like_one_thread(sequences_dir, extra):
    seq = load_otb_sequence(sequences_dir / "Crossing")
    dtype = torch.bfloat16 if extra.get("compute_dtype") == "bfloat16" else None
    params = load_parameters("otb", crop_size=161, model=CONFIG, **extra)
    ref = _track(STMTracker(_network(dtype), params), seq, 12)
    network, seen = _network(dtype), []
    _record_threads(network, seen)
    par = _track(STMTracker(network, load_parameters("otb", crop_size=161, model=CONFIG,
                                                     parallel_stages=True, **extra)), seq, 12)

    for a, b in zip(ref, par):
        assert (a.box, a.score, a.raw_score, a.best_index, a.memory_frames) == \
            (b.box, b.score, b.raw_score, b.best_index, b.memory_frames)
    # the query trunk and the box tower ran on the worker, the class tower here, every one of
    # them in inference mode and in the compute dtype
    threads = {name: {t for n, t, *_ in seen if n == name} for name, *_ in seen}
    assert threads["query trunk"] == threads["box tower"] == {"stmtrack-stage_0"}
    assert threads["cls tower"] == {threading.current_thread().name}
    assert len(seen) == 3 * 11
    out_dtype = torch.bfloat16 if dtype else torch.float32
    assert all(inference and autocast == bool(dtype) and d == out_dtype
               for _, _, inference, autocast, d in seen)


def test_parallel_stages_is_validated_and_off_by_default():
    assert TrackerParams().parallel_stages is False
    assert load_parameters("lite", parallel_stages=True).parallel_stages is True
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="parallel_stages must be bool"):
            TrackerParams(parallel_stages=bad)


def test_a_model_without_encode_query_and_track_features_is_refused():
    class Minimal:  # the tracker protocol alone
        def memorize(self, frames, fg_bg):
            return torch.zeros(1, 4, frames.shape[0], 3, 3)

        def track(self, query, memory):
            return torch.zeros(1, 9), torch.zeros(1, 9, 4)

    STMTracker(Minimal(), TrackerParams(), device="cpu")  # fine without the option
    with pytest.raises(ValueError, match=r"parallel_stages needs a model with "
                                         r"encode_query\(\) and track_features\(\)"):
        STMTracker(Minimal(), TrackerParams(parallel_stages=True), device="cpu")


def test_track_features_equals_track(tiny_model_config):
    model = randomize_model(build_model(tiny_model_config), seed=1).eval()
    assert isinstance(model, StagedTrackingModel)
    query = torch.rand(2, 3, 129, 129) * 255
    with torch.inference_mode():
        memory = model.memorize(torch.rand(3, 3, 129, 129) * 255, torch.ones(3, 1, 129, 129))
        memory = memory.expand(2, -1, -1, -1, -1)
        score, boxes = model.track(query, memory)
        with ThreadPoolExecutor(1) as pool:
            score2, boxes2 = model.track_features(model.encode_query(query), memory, 129,
                                                  executor=pool)
    assert torch.equal(score, score2) and torch.equal(boxes, boxes2)
    assert np.isfinite(score.numpy()).all()


@pytest.mark.parametrize("memory_mode", ["features", "crops"])
def test_batched_step_with_parallel_stages_equals_the_plain_batched_step(sequences_dir,
                                                                         memory_mode):
    """``track_step`` (``stmtrack eval --batch``) runs the same stages on the stage thread: the
    same output bit for bit, with the memory counts of the two sequences apart (masked read)."""
    from stmtrack_plugin.tracking.batch import track_step, tracker_like

    seqs = [load_otb_sequence(sequences_dir / name) for name in ("Crossing", "bag")]

    def run(parallel, network):
        params = load_parameters("otb", crop_size=161, model=CONFIG, memory_mode=memory_mode,
                                 parallel_stages=parallel)
        lead = STMTracker(network, params)
        trackers = [lead, tracker_like(lead)]
        for t, seq in zip(trackers, seqs):
            t.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
        out, frame = [], [1, 1]
        for k in range(9):  # the first 3 steps track the first sequence alone: it runs ahead
            active = [0] if k < 3 else [0, 1]
            steps = [trackers[i].prepare_step(read_image_bgr(seqs[i].frames[frame[i]]))
                     for i in active]
            out.append(track_step([trackers[i] for i in active], steps))
            for i in active:
                frame[i] += 1
        return out

    ref = run(False, _network())
    network, seen = _network(), []
    _record_threads(network, seen)
    par = run(True, network)
    for step_a, step_b in zip(ref, par):
        for a, b in zip(step_a, step_b):
            assert (a.box, a.score, a.best_index, a.memory_frames) == \
                (b.box, b.score, b.best_index, b.memory_frames)
    assert any(len({len(r.memory_frames) for r in step}) == 2 for step in ref[3:]), "memory counts never differed"
    threads = {name: {t for n, t, *_ in seen if n == name} for name, *_ in seen}
    assert threads["query trunk"] == threads["box tower"] == {"stmtrack-stage_0"}
    assert threads["cls tower"] == {threading.current_thread().name}
