"""GOT-10k toolkit: tracker wrapper and offline OTB / UAV123 / LaSOT / GOT-10k / VOT experiments
driven by `stmtrack eval --toolkit got10k` on short real clips."""
import json

import numpy as np
import pytest

pytest.importorskip("got10k")

from stmtrack_plugin.cli.main import main as stmtrack_main  # noqa: E402
from toolkit_helpers import (TemplateTracker, gt_lines, link_frames, served_tracker,  # noqa: E402
                             truncated_otb_copy)

N = 20  # frames per clip


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, shared_dir):
    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


def _eval(tmp_path, tracker, benchmark, root, *extra):
    argv = ["eval", "--toolkit", "got10k", "--benchmark", benchmark, "--root", str(root),
            "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", "--name", "Ours", *tracker.cli_args, *extra]
    assert stmtrack_main(argv) == 0


def test_wrapper_converts_pil_rgb_to_bgr(sequences_dir):
    from PIL import Image

    from stmtrack_plugin.adapters.got10k_tracker import STMTrackGOT10k, pil_to_bgr

    path = str(sequences_dir / "Crossing" / "img" / "0001.jpg")
    import cv2

    assert np.array_equal(pil_to_bgr(Image.open(path)), cv2.imread(path))
    seen = []

    class Spy(TemplateTracker):
        def initialize(self, image, box):
            seen.append(image)
            super().initialize(image, box)

    trk = STMTrackGOT10k(Spy(), name="spy")
    assert trk.is_deterministic
    trk.init(Image.open(path).convert("L"), np.array([204.0, 150, 17, 50]))
    assert seen[0].shape == (240, 360, 3)
    assert trk.update(Image.open(path)).shape == (4,)


def test_otb_experiment_offline(tmp_path, sequences_dir, tracker):
    root = tmp_path / "OTB"
    for name in ("Crossing", "Couple"):
        truncated_otb_copy(sequences_dir / name, root, N)
    _eval(tmp_path, tracker, "otb", root)
    res = tmp_path / "results" / "OTB2015" / "Ours"
    boxes = np.loadtxt(res / "Crossing.txt", delimiter=",")
    assert boxes.shape == (N, 4) and (res / "times" / "Crossing_time.txt").is_file()
    perf = json.loads((tmp_path / "reports" / "OTB2015" / "Ours" / "performance.json").read_text())
    overall = perf["Ours"]["overall"]
    assert 0.0 < overall["success_score"] <= 1.0 and overall["speed_fps"] > 0
    assert set(perf["Ours"]["seq_wise"]) == {"Crossing", "Couple"}
    assert (tmp_path / "reports" / "OTB2015" / "Ours" / "success_plots.png").is_file()


def test_uav123_experiment_with_real_names(tmp_path, sequences_dir, tracker):
    """UAV123 layout with the real names of the shared UAV123_10fps clips.

    got10k's uav123.json defines person12_1 as frames 1-601 of folder person12 (30 fps); the
    shared clip holds the 10 fps frames, so the test layout stores its first N frames as
    000001.jpg.. and the run is truncated to N frames (--max-frames).
    """
    root = tmp_path / "UAV123"
    for real, shared, folder in (("person12_1", "uav_person12_1", "person12"),
                                 ("boat1", "uav_boat1", "boat1")):
        link_frames(sequences_dir / shared / "img", root / "data_seq" / "UAV123" / folder, N,
                     "%06d.jpg")
        (root / "anno" / "UAV123").mkdir(parents=True, exist_ok=True)
        (root / "anno" / "UAV123" / f"{real}.txt").write_text(
            gt_lines(sequences_dir / shared, N))
    _eval(tmp_path, tracker, "uav123", root, "--max-frames", str(N))
    perf = json.loads((tmp_path / "reports" / "UAV123" / "Ours" / "performance.json").read_text())
    assert set(perf["Ours"]["seq_wise"]) == {"person12_1", "boat1"}
    assert 0.0 < perf["Ours"]["overall"]["success_score"] <= 1.0


def test_uav123_length_mismatch_is_a_clear_error(tmp_path, sequences_dir):
    from stmtrack_plugin.adapters.got10k_experiments import make_experiment

    root = tmp_path / "UAV123"
    link_frames(sequences_dir / "uav_boat1" / "img", root / "data_seq" / "UAV123" / "boat1", 5,
                 "%06d.jpg")
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / "boat1.txt").write_text(gt_lines(sequences_dir / "uav_boat1", 5))
    with pytest.raises(ValueError, match="boat1: 901 frames expected"):
        make_experiment("uav123", str(root)).dataset[0]


def test_lasot_experiment_reports_normalised_precision(tmp_path, sequences_dir, tracker):
    root = tmp_path / "LaSOT"
    for real, shared in (("person-1", "Couple"), ("car-2", "Car4")):
        seq = root / real.split("-")[0] / real
        link_frames(sequences_dir / shared / "img", seq / "img", N, "%08d.jpg")
        (seq / "groundtruth.txt").write_text(gt_lines(sequences_dir / shared, N))
        for flag in ("full_occlusion", "out_of_view"):
            (seq / f"{flag}.txt").write_text(",".join(["0"] * N) + "\n")
        (seq / "nlp.txt").write_text("test clip\n")
    _eval(tmp_path, tracker, "lasot", root)
    perf = json.loads((tmp_path / "reports" / "LaSOT" / "Ours" / "performance.json").read_text())
    overall = perf["Ours"]["overall"]
    assert set(perf["Ours"]["seq_wise"]) == {"person-1", "car-2"}
    for key in ("success_score", "precision_score", "normalized_precision_score"):
        assert 0.0 <= overall[key] <= 1.0
    assert overall["normalized_precision_score"] > 0
    assert (tmp_path / "reports" / "LaSOT" / "Ours" / "precision_plots.png").is_file()


def test_got10k_val_and_vot_experiments(tmp_path, sequences_dir, tracker):
    got = tmp_path / "GOT10k"
    vot = tmp_path / "VOT2018"
    name = "GOT-10k_Val_000001"
    link_frames(sequences_dir / "Crossing" / "img", got / "val" / name, N, "%08d.jpg")
    (got / "val" / "list.txt").write_text(name + "\n")
    (got / "val" / name / "groundtruth.txt").write_text(gt_lines(sequences_dir / "Crossing", N))
    (got / "val" / name / "meta_info.ini").write_text(
        "[METAINFO]\nobject_class: person\nresolution: (360, 240)\n")
    for label in ("absence", "cut_by_image"):
        (got / "val" / name / f"{label}.label").write_text("0\n" * N)
    (got / "val" / name / "cover.label").write_text("8\n" * N)
    _eval(tmp_path, tracker, "got10k", got)
    perf = json.loads((tmp_path / "reports" / "GOT-10k" / "Ours" / "performance.json").read_text())
    assert 0.0 < perf["Ours"]["overall"]["ao"] <= 1.0

    link_frames(sequences_dir / "bag" / "img", vot / "bag", N, "%08d.jpg")
    (vot / "list.txt").write_text("bag\n")
    (vot / "bag" / "groundtruth.txt").write_text(gt_lines(sequences_dir / "bag", N))
    _eval(tmp_path, tracker, "vot", vot)
    rec = tmp_path / "results" / "VOT2018" / "Ours" / "baseline" / "bag" / "bag_001.txt"
    assert rec.read_text().splitlines()[0] == "1"
    perf = json.loads((tmp_path / "reports" / "VOT2018" / "Ours" / "performance.json").read_text())
    assert 0.0 <= perf["Ours"]["accuracy"] <= 1.0


def test_benchmark_default_parameters_and_clear_errors(tmp_path, sequences_dir, capsys):
    from stmtrack_plugin.adapters.benchmarks import BENCHMARKS
    from stmtrack_plugin.cli.evaluate import default_params
    from stmtrack_plugin.config import available_parameters

    assert {s.params for s in BENCHMARKS.values()} <= set(available_parameters())
    assert default_params("OTB100") == "otb" and default_params("VOT2018") == "vot2018"
    assert default_params("SomeOtherSet") == "default"
    (tmp_path / "OTB").mkdir()
    argv = ["eval", "--toolkit", "got10k", "--benchmark", "otb", "--root", str(tmp_path / "OTB"),
            "--weights", str(tmp_path / "missing.pth"), "--quiet",
            "--results", str(tmp_path / "res"), "--reports", str(tmp_path / "rep")]
    assert stmtrack_main(argv) == 2
    assert "OTB root" in capsys.readouterr().err
    truncated_otb_copy(sequences_dir / "Crossing", tmp_path / "OTB", 3)
    assert stmtrack_main(argv) == 2
    assert "missing.pth" in capsys.readouterr().err
