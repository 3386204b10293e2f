"""pysot-style raw results: layout, parsing the way pysot-toolkit reads them, VOT reset codes."""
import glob
import json
import os

import numpy as np
import pytest

from stmtrack_plugin.adapters import pysot
from stmtrack_plugin.adapters.protocols import init_box
from stmtrack_plugin.cli.main import main as stmtrack_main
from toolkit_helpers import served_tracker, truncated_otb_copy

N = 20  # frames per clip


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, shared_dir):
    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


@pytest.fixture()
def otb_root(tmp_path, sequences_dir):
    root = tmp_path / "OTB100"
    for name in ("Crossing", "Jogging-1"):
        truncated_otb_copy(sequences_dir / name, root, N)
    return root


def _pysot_vot_reader(tracker_dir, video):
    """pysot-toolkit's VOT reader: glob *0*.txt; all 15 files, else the first hit."""
    files = glob.glob(os.path.join(tracker_dir, "baseline", video, "*0*.txt"))
    assert files, "no result file"
    with open(files[0]) as f:
        return [list(map(float, line.strip().split(","))) for line in f]


def test_one_pass_layout_parses_like_pysot(tmp_path, otb_root, tracker):
    json_path = pysot.write_dataset_json(str(otb_root), "OTB100")
    meta = json.load(open(json_path))
    assert set(meta) == {"Crossing", "Jogging-1"}
    assert meta["Crossing"]["img_names"][0] == os.path.join("Crossing", "img", "0001.jpg")
    argv = ["eval", "--toolkit", "pysot", "--dataset", "OTB100", "--root", str(otb_root),
            "--results", str(tmp_path / "results"), "--name", "Ours", "--quiet",
            *tracker.cli_args]
    assert stmtrack_main(argv) == 0
    # the same run in two worker processes gives the same files
    argv[argv.index("Ours")] = "OursParallel"
    assert stmtrack_main(argv + ["--workers", "2"]) == 0
    for video in meta:
        path = tmp_path / "results" / "OTB100" / "Ours" / f"{video}.txt"
        boxes = pysot.read_pysot_result(str(path))
        assert boxes.shape == (N, 4) and np.isfinite(boxes).all()
        # line 1 is the initial box: the ground-truth line unchanged (the authors' rule)
        assert np.allclose(boxes[0], init_box(meta[video]["gt_rect"][0], one_pass=True), atol=1e-4)
        assert np.allclose(boxes[0], meta[video]["gt_rect"][0], atol=1e-4)
        parallel = tmp_path / "results" / "OTB100" / "OursParallel" / f"{video}.txt"
        assert parallel.read_text() == path.read_text()


def test_vot_baseline_layout_codes_and_reinit(tmp_path, sequences_dir):
    """A tracker that drifts off: 1 / 2 / 0 codes and re-init five frames after the failure."""
    from stmtrack_plugin.adapters.runner import run_jobs
    from toolkit_helpers import ShiftingTracker

    root = tmp_path / "VOT2018"
    src = truncated_otb_copy(sequences_dir / "bag", tmp_path / "src", N, "bag")
    gt = np.loadtxt(src / "groundtruth_rect.txt", delimiter=",")
    x, y, w, h = gt.T
    polys = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], 1)
    meta = {"bag": {"video_dir": "bag", "init_rect": gt[0].tolist(), "attr": [],
                    "img_names": [os.path.relpath(p, root) for p in
                                  sorted(glob.glob(str(src / "img" / "*.jpg")))],
                    "gt_rect": polys.tolist()}}
    root.mkdir()
    (root / "VOT2018.json").write_text(json.dumps(meta))
    jobs = pysot.make_jobs(str(root), "VOT2018", str(tmp_path / "results"), "Drift")
    assert jobs[0].protocol == "reset"
    summary = run_jobs(lambda: ShiftingTracker(step=300.0), jobs, progress=False)
    assert summary.ok
    tracker_dir = tmp_path / "results" / "VOT2018" / "Drift"
    assert sorted(os.listdir(tracker_dir / "baseline" / "bag")) == ["bag_001.txt"]
    rows = _pysot_vot_reader(str(tracker_dir), "bag")
    codes = [r[0] if len(r) == 1 else None for r in rows]
    assert codes[:8] == [1, 2, 0, 0, 0, 0, 1, 2]
    assert len(rows) == N
