"""Tracker parity with the real network on seeded weights (``../shared/parity/track``).

9 runs (synth 40 frames, Crossing and bag 60 frames; got10k, otb and vot settings), produced by
the authors' tracker with the seed-0 weights. Per frame: the raw score map within 2e-5, the
chosen cell, the number of memory frames and the query crop scale exactly, the windowed best
score within 1e-5 and the box within 1e-3 px (tolerances of the parity README).

The full model runs at about 0.5 s per frame on 2 idle CPU cores, so the default suite runs
only the first 9 frames of ``synth__vot`` (T = 1..4, the confidence gate's pass branch from
frame 5, and the duplicated frame at n = 8); the 9 whole runs are marked slow and run twice:
on the module as built and on the prepared exact fast path
(:func:`stmtrack_plugin.model.inference.prepare_for_inference`), with the same tolerances.
"""
import json

import numpy as np
import pytest

from stmtrack_plugin.config import load_parameters
from stmtrack_plugin.tracking import STMTracker
from stmtrack_plugin.utils.io import read_image_bgr
from parity_env import require_fixture_environment

RUNS = [f"{seq}__{bench}" for seq in ("synth", "Crossing", "bag")
        for bench in ("got10k", "otb", "vot")]
PARAMS = {"got10k": "got10k", "otb": "otb", "vot": "vot2018"}


@pytest.fixture(scope="module")
def seeded_model():
    import torch

    from stmtrack_plugin.model import build_model
    from stmtrack_plugin.model.random_weights import randomize_model

    torch.manual_seed(0)
    return randomize_model(build_model(), seed=0).eval()


def run_fixture(run, model, shared_dir, sequences_dir, max_frames=None):
    seq, bench = run.split("__")
    track_dir = shared_dir / "parity" / "track"
    meta = json.loads((track_dir / f"{run}.json").read_text())
    ref = dict(np.load(track_dir / f"{run}.npz"))
    root = shared_dir / "parity" / "synth" if seq == "synth" else sequences_dir / seq
    names = meta["frames"][:max_frames]
    require_fixture_environment(meta, [root / name for name in names])
    tracker = STMTracker(model, load_parameters(PARAMS[bench]), debug=True)
    tracker.initialize(read_image_bgr(root / names[0]), meta["init_box"])
    memory_sizes = []
    for k in range(1, len(names)):
        r = tracker.track(read_image_bgr(root / names[k]))
        where = f"{run} frame {k}"
        np.testing.assert_allclose(r.score_map, ref["score"][k - 1], rtol=0, atol=2e-5, err_msg=where)
        assert r.num_memory == ref["num_mem"][k - 1], where
        assert r.best_index == ref["best_idx"][k - 1], where
        assert r.crop_scale == pytest.approx(ref["scale_q"][k - 1], rel=1e-12), where
        assert abs(r.score - ref["best_pscore"][k - 1]) < 1e-5, where
        np.testing.assert_allclose(r.box, ref["boxes"][k], rtol=0, atol=1e-3, err_msg=where)
        memory_sizes.append(r.num_memory)
    return memory_sizes


@pytest.mark.torch_threads(2)
def test_seeded_parity_short(seeded_model, shared_dir, sequences_dir):
    sizes = run_fixture("synth__vot", seeded_model, shared_dir, sequences_dir, max_frames=9)
    # T = 1..4, then 5 (4 + the confident previous frame), 6 at n = 8 (frame 7 twice)
    assert sizes == [1, 2, 3, 4, 5, 5, 5, 6]


@pytest.fixture(scope="module")
def prepared_seeded_model(seeded_model):
    """The same weights through the exact fast path (BatchNorm folded, packed oneDNN convs) that
    ``STMTracker.from_params`` and every adapter use."""
    import copy

    from stmtrack_plugin.model.inference import prepare_for_inference

    return prepare_for_inference(copy.deepcopy(seeded_model))


@pytest.mark.slow
@pytest.mark.torch_threads(2)
@pytest.mark.parametrize("path", ["module", "prepared"])
@pytest.mark.parametrize("run", RUNS)
def test_seeded_parity_full(run, path, request, shared_dir, sequences_dir):
    model = request.getfixturevalue("seeded_model" if path == "module" else "prepared_seeded_model")
    run_fixture(run, model, shared_dir, sequences_dir)
