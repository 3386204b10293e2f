"""pysot drop-in: STMTrack behind pysot's tracker interface, run by `stmtrack-pysot` with a pysot
checkout's own dataset classes and tools/test.py's loop (stand-in checkout: tests/pysot_standin.py).
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from pysot_standin import make_standin, write_dataset_json
from stmtrack_plugin.adapters import pysot_runner
from stmtrack_plugin.adapters.protocols import pysot_init_box, run_ope
from stmtrack_plugin.adapters.pysot_tracker import PysotTracker, run_test_loop
from stmtrack_plugin.adapters.runner import run_jobs
from toolkit_helpers import (ShiftingTracker, TemplateTracker, one_thread, served_tracker,
                             truncated_otb_copy)

N = 12


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, shared_dir):
    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


def _clip(sequences_dir, tmp_path, name, n=N):
    src = truncated_otb_copy(sequences_dir / name, tmp_path / "clips", n)
    frames = sorted(str(p) for p in (src / "img").iterdir())
    return frames, np.loadtxt(src / "groundtruth_rect.txt", delimiter=",")


@pytest.fixture()
def otb_checkout(tmp_path, sequences_dir):
    checkout = make_standin(tmp_path / "pysot")
    seqs = {name: _clip(sequences_dir, tmp_path, name) for name in ("Crossing", "Couple")}
    write_dataset_json(checkout / "testing_dataset" / "OTB100", "OTB100", seqs)
    return checkout, seqs


class RecordingTracker(ShiftingTracker):
    """ShiftingTracker that keeps every box it was (re-)initialised with."""

    def __init__(self, step):
        super().__init__(step)
        self.inits = []

    def initialize(self, image, box):
        self.inits.append(np.asarray(box, dtype=np.float64).copy())
        super().initialize(image, box)


def test_pysot_interface_wraps_our_tracker(sequences_dir, tmp_path):
    frames, gt = _clip(sequences_dir, tmp_path, "Crossing", 3)
    import cv2

    ours, wrapped = TemplateTracker(), PysotTracker(TemplateTracker())
    ours.initialize(cv2.imread(frames[0]), gt[0])
    assert wrapped.init(cv2.imread(frames[0]), list(gt[0])) is None
    for path in frames[1:]:
        out = wrapped.track(cv2.imread(path))
        expected = ours.track(cv2.imread(path))
        assert set(out) == {"bbox", "best_score"}
        assert isinstance(out["bbox"], list) and len(out["bbox"]) == 4
        assert out["bbox"] == [float(v) for v in expected.box]
        assert out["best_score"] == pytest.approx(expected.score)
    with pytest.raises(ValueError, match="x, y, w, h"):
        wrapped.init(cv2.imread(frames[0]), [1, 2, 3])


def test_stmtrack_pysot_one_pass_in_a_checkout(otb_checkout, tracker, tmp_path):
    """`python -m ...pysot_runner` in the checkout: OTB100 <video>.txt equal to a direct run;
    a re-run resumes; other parameters are refused, then replaced with --overwrite."""
    checkout, seqs = otb_checkout
    args = ["--pysot-root", str(checkout), "--dataset", "OTB100", "--quiet",
            "--params", tracker.params, "--weights", tracker.weights, "--device", "cpu",
            "--threads", "1"]
    env = dict(os.environ, **tracker.env)
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-m", "stmtrack_plugin.adapters.pysot_runner", *args],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out_dir = tmp_path / "results" / "OTB100" / "STMTrack"  # test.py: results/ under the cwd
    assert {f for f in os.listdir(out_dir) if f.endswith(".txt")} == {"Couple.txt",
                                                                      "Crossing.txt"}
    for name, (frames, gt) in seqs.items():
        rows = [list(map(float, line.strip().split(",")))  # pysot-toolkit's reader
                for line in (out_dir / f"{name}.txt").read_text().splitlines()]
        assert len(rows) == N and np.allclose(rows[0], gt[0], atol=1e-4)
        with one_thread():
            direct = run_ope(tracker.build(), frames, gt[0]).boxes
        np.testing.assert_allclose(rows, direct, atol=2e-4)
    results = str(tmp_path / "results")
    before = (out_dir / "Crossing.txt").stat().st_mtime_ns
    assert pysot_runner.main(args + ["--results", results]) == 0
    assert (out_dir / "Crossing.txt").stat().st_mtime_ns == before  # resumed: not re-run
    other = args + ["--results", results, "--video", "Crossing", "--init-rule", "pysot"]
    assert pysot_runner.main(other) == 2
    assert pysot_runner.main(other + ["--overwrite"]) == 0
    rows = np.loadtxt(out_dir / "Crossing.txt", delimiter=",")
    assert np.allclose(rows[0], pysot_init_box(seqs["Crossing"][1][0]), atol=1e-4)


@pytest.mark.parametrize("package", ["toolkit", "pysot"])
def test_vot_reset_loop_with_the_checkouts_videos(tmp_path, sequences_dir, package):
    """VOT2018: test.py's codes, re-init 5 frames after a failure, baseline/<v>/<v>_001.txt;
    4-value ground truth goes through test.py's corner polygon, 8-value polygons as is."""
    checkout = make_standin(tmp_path / "checkout", package)
    frames, gt = _clip(sequences_dir, tmp_path, "bag", 20)
    x, y, w, h = gt.T
    polys = np.stack([x, y + 2, x + w, y, x + w + 2, y + h, x, y + h - 2], 1)  # skewed quads
    write_dataset_json(checkout / "testing_dataset" / "VOT2018", "VOT2018",
                       {"bag": (frames, gt), "bagpoly": (frames, polys)})
    dataset = pysot_runner.load_dataset(str(checkout), "VOT2018")
    assert type(dataset).__module__ == f"{package}.datasets.vot"
    jobs = pysot_runner.make_jobs(dataset, "VOT2018", str(tmp_path / "results"), "Drift",
                                  init_rule="pysot")
    summary = run_jobs(lambda: PysotTracker(ShiftingTracker(step=300.0)), jobs, progress=False)
    assert summary.ok, summary.describe()
    tracker_dir = tmp_path / "results" / "VOT2018" / "Drift"
    for video in ("bag", "bagpoly"):
        assert sorted(os.listdir(tracker_dir / "baseline" / video)) == [f"{video}_001.txt"]
        lines = (tracker_dir / "baseline" / video / f"{video}_001.txt").read_text().split()
        assert lines[:8] == ["1", "2", "0", "0", "0", "0", "1", "2"] and len(lines) == 20
    # initial boxes: test.py's get_axis_aligned_bbox of its polygon, then cx - (w-1)/2
    video = dataset["bag"]
    rec = RecordingTracker(step=300.0)
    run_test_loop(PysotTracker(rec), video, reset=True, init_rule="pysot")
    np.testing.assert_allclose(rec.inits[0], gt[0])  # the corner polygon gives x, y, w, h back
    np.testing.assert_allclose(rec.inits[1], gt[6])
    rec = RecordingTracker(step=300.0)
    run_test_loop(PysotTracker(rec), dataset["bagpoly"], reset=True, init_rule="pysot")
    np.testing.assert_allclose(rec.inits[0], pysot_init_box(polys[0]))
    rec_authors = RecordingTracker(step=300.0)
    run_test_loop(PysotTracker(rec_authors), dataset["bagpoly"], reset=True)
    np.testing.assert_allclose(rec_authors.inits[0][:2], rec.inits[0][:2] - 0.5)


def test_checkout_errors_are_clear(tmp_path, otb_checkout, capsys):
    checkout, _ = otb_checkout
    base = ["--dataset", "OTB100", "--results", str(tmp_path / "res"), "--quiet",
            "--weights", str(tmp_path / "none.pth")]
    assert pysot_runner.main(["--pysot-root", str(tmp_path / "nowhere")] + base) == 2
    assert "is not a pysot checkout" in capsys.readouterr().err
    assert pysot_runner.main(["--pysot-root", str(checkout), "--video", "Nope"] + base) == 2
    assert "no video named Nope in OTB100" in capsys.readouterr().err
    args = ["--pysot-root", str(checkout), "--dataset", "LaSOT", "--dataset-root",
            str(checkout / "testing_dataset" / "OTB100"), "--weights", "x"]
    assert pysot_runner.main(args) == 2
    assert "unknow dataset LaSOT" in capsys.readouterr().err
    # a broken frame names the file instead of crashing inside the tracker
    dataset = pysot_runner.load_dataset(str(checkout), "OTB100")
    video = dataset["Crossing"]
    os.remove(video.img_names[3])
    with pytest.raises(FileNotFoundError, match="0004.jpg"):
        run_test_loop(PysotTracker(ShiftingTracker(step=0.0)), video, reset=False)


@pytest.mark.parametrize("dataset, expected", [
    ("VOT2018", "res/VOT2018/T/baseline/v/v_001.txt"),
    ("GOT-10k", "res/GOT-10k/T/v/v_001.txt"),
    ("UAV123", "res/UAV123/T/v.txt"),
    ("vot2018", "res/vot2018/T/v.txt"),  # test.py compares names case-sensitively
])
def test_result_files_where_test_py_writes_them(dataset, expected):
    layout, protocol = pysot_runner.layout_for(dataset, os.path.join("res", dataset, "T"))
    assert layout.result_file("v") == expected
    assert protocol == ("reset" if dataset == "VOT2018" else "ope")
    with pytest.raises(ValueError, match="VOT2018-LT"):
        pysot_runner.layout_for("VOT2018-LT", "res")


def test_drop_in_results_never_resume_an_eval_run(otb_checkout, tmp_path):
    """The same folder written by `stmtrack eval --toolkit pysot` (our own loop) is refused."""
    from stmtrack_plugin.adapters import pysot
    from stmtrack_plugin.adapters.provenance import ResultMismatch

    checkout, _ = otb_checkout
    results = str(tmp_path / "results")
    make = lambda: PysotTracker(ShiftingTracker(step=1.0))  # noqa: E731
    dataset = pysot_runner.load_dataset(str(checkout), "OTB100")
    jobs = pysot_runner.make_jobs(dataset, "OTB100", results, "T")
    settings = {"init_rule": "stmtrack", "loop": pysot_runner.LOOP}
    assert run_jobs(make, jobs, progress=False, settings=settings).ok
    assert run_jobs(make, jobs, progress=False, settings=settings).skipped == ["Couple",
                                                                              "Crossing"]
    eval_jobs = pysot.make_jobs(str(checkout / "testing_dataset" / "OTB100"), "OTB100", results,
                                "T")
    with pytest.raises(ResultMismatch, match="loop"):
        run_jobs(lambda: ShiftingTracker(step=1.0), eval_jobs, progress=False,
                 settings={"max_frames": None, "init_rule": "stmtrack"})
