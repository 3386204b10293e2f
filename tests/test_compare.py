"""`stmtrack compare`: ours + published raw results + OpenCV peers -> table and plots."""
import csv

import numpy as np
import pytest

from stmtrack_plugin.adapters.peers import available_peers
from stmtrack_plugin.cli.main import main as stmtrack_main
from stmtrack_plugin.evaluation.compare import find_result_file
from stmtrack_plugin.evaluation.metrics import ope
from parity_env import environment_differs, version_mismatches
from toolkit_helpers import served_tracker, truncated_otb_copy

N = 20  # frames per clip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, shared_dir):
    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


@pytest.fixture()
def dataset(tmp_path, sequences_dir):
    root = tmp_path / "OTB"
    for name in ("Crossing", "Jogging-1"):
        truncated_otb_copy(sequences_dir / name, root, N)
    return root


def _published(results, gt_root):
    """A 'published' tracker in the official OTB result naming, tab-separated integers."""
    pub = results / "Published"
    pub.mkdir(parents=True)
    for video, fname in (("Crossing", "crossing.txt"), ("Jogging-1", "jogging_1.txt")):
        gt = np.loadtxt(gt_root / video / "groundtruth_rect.txt", delimiter=",")
        np.savetxt(pub / fname, np.round(gt + [2, 1, 0, 0]).astype(int), fmt="%d",
                   delimiter="\t")
    return pub


def test_compare_ours_published_and_peers(tmp_path, dataset, tracker, shared_dir):
    argv = ["eval", "--toolkit", "pysot", "--dataset", "OTB", "--root", str(dataset),
            "--results", str(tmp_path / "results"), "--name", "Ours", "--quiet",
            *tracker.cli_args]
    assert stmtrack_main(argv) == 0  # writes results/OTB/Ours/<video>.txt (pysot layout)
    results = tmp_path / "results" / "OTB"
    _published(results, dataset)
    out = tmp_path / "cmp"
    argv = ["compare", "--dataset-root", str(dataset), "--results", str(results),
            "--trackers", "Ours", "Published", "--run-peers", "mil,nanotrack",
            "--nanotrack-dir", str(shared_dir / "models" / "nanotrack"), "--out", str(out),
            "--title", "OTB clips", "--quiet"]
    assert stmtrack_main(argv) == 0
    rows = {r["tracker"]: r for r in csv.DictReader(open(out / "comparison.csv"))}
    assert set(rows) == {"Ours", "Published", "mil", "nanotrack"}
    for r in rows.values():
        assert 0.0 <= float(r["success_auc"]) <= 1.0 and r["videos"] == "2"
    assert float(rows["Ours"]["fps"]) > 0 and rows["Published"]["fps"] == ""
    # the published numbers equal the metrics computed directly
    gt = {v: np.loadtxt(dataset / v / "groundtruth_rect.txt", delimiter=",")
          for v in ("Crossing", "Jogging-1")}
    direct = []
    for v, fname in (("Crossing", "crossing.txt"), ("Jogging-1", "jogging_1.txt")):
        pred = np.loadtxt(results / "Published" / fname, delimiter="\t")
        pred[0] = gt[v][0]
        direct.append(ope(pred, gt[v]).success_auc)
    assert float(rows["Published"]["success_auc"]) == pytest.approx(np.mean(direct), abs=1e-4)
    md = (out / "comparison.md").read_text()
    assert "| tracker | success AUC | precision@20 | norm. precision | FPS |" in md
    for png in ("success_plot.png", "precision_plot.png"):
        data = (out / png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000


def test_result_file_name_variants(tmp_path):
    (tmp_path / "jogging_1.txt").write_text("")
    (tmp_path / "Car4").mkdir()
    (tmp_path / "Car4" / "Car4_001.txt").write_text("")
    assert find_result_file(str(tmp_path), "Jogging-1").endswith("jogging_1.txt")
    assert find_result_file(str(tmp_path), "Car4").endswith("Car4_001.txt")
    assert find_result_file(str(tmp_path), "Couple") is None


@pytest.mark.parametrize("peer", ["csrt", "kcf"])
def test_contrib_peers(tmp_path, dataset, peer, capsys):
    """CSRT/KCF need opencv-contrib: run them when present, else a clear message."""
    out = tmp_path / "cmp"
    argv = ["compare", "--dataset-root", str(dataset), "--results", str(tmp_path / "res"),
            "--run-peers", f"{peer},mil", "--out", str(out), "--quiet"]
    code = stmtrack_main(argv)
    rows = {r["tracker"] for r in csv.DictReader(open(out / "comparison.csv"))}
    if peer in available_peers():
        assert code == 0 and rows == {peer, "mil"}
    else:
        assert code == 1 and rows == {"mil"}
        assert "opencv-contrib-python-headless" in capsys.readouterr().err


def test_nanotrack_peer_reproduces_its_reference_scores(tmp_path, sequences_dir, shared_dir):
    """NanoTrack v2 on Crossing (shared/models/nanotrack/README.md: AUC 0.749, P@20 1.000)."""
    if version_mismatches({"opencv": "5.0.0"}):  # the reference scores were made with 5.0.0
        environment_differs("the NanoTrack reference scores were made with OpenCV 5.0.0 "
                            "(5.1.0.95 gives AUC 0.7429)")
    out = tmp_path / "cmp"
    argv = ["compare", "--dataset-root", str(sequences_dir), "--names", "Crossing",
            "--results", str(tmp_path / "res"), "--run-peers", "nanotrack",
            "--nanotrack-dir", str(shared_dir / "models" / "nanotrack"), "--out", str(out),
            "--quiet"]
    assert stmtrack_main(argv) == 0
    row = next(csv.DictReader(open(out / "per_video.csv")))
    assert row["video"] == "Crossing" and row["frames"] == "120"
    assert float(row["success_auc"]) == pytest.approx(0.749, abs=6e-4)
    assert float(row["precision20"]) == pytest.approx(1.0)
