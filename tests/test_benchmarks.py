"""The benchmark table, the TNL2K / NfS / UAV20L / TrackingNet layouts (small synthetic copies of
their real layouts made from the shared clips) and the GOT-10k / TrackingNet server zips."""
import dataclasses
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("got10k")

from stmtrack_plugin.cli.main import main as stmtrack_main  # noqa: E402
from toolkit_helpers import make_template_tracker  # noqa: E402

N = 8  # frames per clip


def _frames(sequences_dir: Path, name: str, n: int = N):
    return sorted((sequences_dir / name / "img").iterdir())[:n]


def _gt(sequences_dir: Path, name: str, n: int = N) -> np.ndarray:
    from stmtrack_plugin.utils.sequences import read_boxes

    return read_boxes(str(sequences_dir / name / "groundtruth_rect.txt"))[:n]


def _write_gt(path: Path, boxes, sep=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(f"{v:g}" for v in b) + "\n" for b in boxes))


def _link(frames, dst: Path, fmt: str, start: int = 1):
    dst.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start):
        os.symlink(frame, dst / (fmt % i))


def _run(exp, name="T"):
    from stmtrack_plugin.adapters import got10k_experiments as gx
    from stmtrack_plugin.adapters.runner import run_jobs

    summary = run_jobs(make_template_tracker, gx.make_jobs(exp, name), progress=False)
    assert summary.ok, summary.failed
    return exp.report([name])[name]


def _assert_ope_report(perf, seqs):
    assert set(perf["seq_wise"]) == set(seqs)
    for key in ("success_score", "precision_score", "normalized_precision_score"):
        assert 0.0 < perf["overall"][key] <= 1.0


def test_one_table_drives_cli_choices_params_and_experiments(tmp_path, sequences_dir,
                                                             monkeypatch):
    import argparse

    from stmtrack_plugin.adapters import benchmarks
    from stmtrack_plugin.adapters import got10k_experiments as gx
    from stmtrack_plugin.cli.evaluate import add_arguments
    from stmtrack_plugin.config import available_parameters

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "benchmark")
    assert tuple(choices) == tuple(benchmarks.BENCHMARKS)
    assert {"tnl2k", "nfs", "uav20l", "trackingnet"} <= set(choices)
    assert {s.params for s in benchmarks.BENCHMARKS.values()} <= set(available_parameters())
    assert benchmarks.default_params("OTB100") == "otb"
    assert benchmarks.default_params("VOT2018") == "vot2018"
    assert benchmarks.default_params("UAV20L") == "uav123"
    assert parser.parse_args(["--root", "r", "--split", "test"]).version == "test"
    with pytest.raises(ValueError, match="unknown version 'UAV20L'.*UAV123"):
        benchmarks.benchmark_spec("uav123").version("UAV20L")

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name, spec in benchmarks.BENCHMARKS.items():  # the README's table lists every entry
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")
                and f"`stmtrack eval --benchmark {name} " in line]
        assert len(rows) == 1 and f"| `{spec.params}` |" in rows[0], name

    # a new one-pass benchmark is one entry: the generic experiment runs and scores it
    spec = dataclasses.replace(benchmarks.BENCHMARKS["tnl2k"], title="Mine", folder="Mine")
    monkeypatch.setitem(benchmarks.BENCHMARKS, "mine", spec)
    root = tmp_path / "Mine"
    _link(_frames(sequences_dir, "Crossing"), root / "Crossing" / "imgs", "%05d.jpg")
    _write_gt(root / "Crossing" / "groundtruth.txt", _gt(sequences_dir, "Crossing"))
    exp = gx.make_experiment("mine", str(root), str(tmp_path / "res"), str(tmp_path / "rep"))
    _assert_ope_report(_run(exp), ["Crossing"])
    assert (tmp_path / "res" / "Mine" / "T" / "Crossing.txt").is_file()


def test_tnl2k_imgs_png_layout(tmp_path, sequences_dir):
    from stmtrack_plugin.adapters import got10k_experiments as gx

    root = tmp_path / "TNL2K_test_subset"
    for name, shared in (("advSamp_Baseball_game_002-Done", "Crossing"), ("Car_video_01", "Car4")):
        (root / name / "imgs").mkdir(parents=True)
        for i, frame in enumerate(_frames(sequences_dir, shared), 1):  # TNL2K: PNG frames
            cv2.imwrite(str(root / name / "imgs" / f"{i:05d}.png"), cv2.imread(str(frame)))
        _write_gt(root / name / "groundtruth.txt", _gt(sequences_dir, shared))
        (root / name / "language.txt").write_text("the target\n")
    exp = gx.make_experiment("tnl2k", str(root), str(tmp_path / "res"), str(tmp_path / "rep"))
    frames, anno = exp.dataset[0]
    assert frames[0].endswith("imgs/00001.png") and anno.shape == (N, 4)
    perf = _run(exp)
    _assert_ope_report(perf, ["advSamp_Baseball_game_002-Done", "Car_video_01"])
    assert (tmp_path / "rep" / "TNL2K" / "T" / "performance.json").is_file()

    # `stmtrack compare --benchmark` reads the same layout through the table
    argv = ["compare", "--benchmark", "tnl2k", "--dataset-root", str(root), "--results",
            str(tmp_path / "res" / "TNL2K"), "--trackers", "T", "--out", str(tmp_path / "cmp"),
            "--gt-base", "0", "--quiet"]
    assert stmtrack_main(argv) == 0
    rows = (tmp_path / "cmp" / "per_video.csv").read_text()
    assert "advSamp_Baseball_game_002-Done" in rows and "Car_video_01" in rows
    table = (tmp_path / "cmp" / "comparison.csv").read_text().splitlines()
    scores = dict(zip(table[0].split(","), table[1].split(",")))
    assert float(scores["success_auc"]) == pytest.approx(perf["overall"]["success_score"],
                                                         abs=1e-4)
    assert float(scores["norm_precision"]) == pytest.approx(
        perf["overall"]["normalized_precision_score"], abs=1e-4)


def _nfs_line(box, frame):
    x, y, w, h = box
    return f"1 {x:g} {y:g} {x + w:g} {y + h:g} {frame} 0 0 0 \"person\"\n"


def test_nfs_30fps_layout_and_annotation_format(tmp_path, sequences_dir):
    from stmtrack_plugin.adapters import got10k_experiments as gx
    from stmtrack_plugin.adapters.benchmark_readers import read_nfs

    root = tmp_path / "NfS"
    gt = _gt(sequences_dir, "Couple")
    _link(_frames(sequences_dir, "Couple"), root / "Gymnastics" / "30" / "Gymnastics", "%05d.jpg")
    (root / "Gymnastics" / "30" / "Gymnastics.txt").write_text(
        "".join(_nfs_line(b, i) for i, b in enumerate(gt, 1)))
    # a 240-fps-rate annotation file (8 lines per 30-fps frame) keeps every 8th line
    _link(_frames(sequences_dir, "Car4"), root / "car_camaro" / "30" / "car_camaro", "%05d.jpg")
    car = _gt(sequences_dir, "Car4")
    (root / "car_camaro" / "30" / "car_camaro.txt").write_text(
        "".join(_nfs_line(car[i // 8] + [i % 8, 0, 0, 0], i + 1) for i in range(8 * N - 7)))
    data = read_nfs(str(root))
    assert data.seq_names == ["Gymnastics", "car_camaro"]
    assert np.allclose(data["Gymnastics"][1], gt) and np.allclose(data["car_camaro"][1], car)
    exp = gx.make_experiment("nfs", str(root), str(tmp_path / "res"), str(tmp_path / "rep"))
    _assert_ope_report(_run(exp), ["Gymnastics", "car_camaro"])
    assert (tmp_path / "res" / "NfS30" / "T" / "Gymnastics.txt").is_file()

    (root / "Gymnastics" / "30" / "Gymnastics.txt").write_text(_nfs_line(gt[0], 1) * 3)
    with pytest.raises(ValueError, match=f"Gymnastics: {N} frames expected.*3 annotation"):
        gx.make_experiment("nfs", str(root)).dataset[0]


def test_uav20l_frames_from_annotation_length(tmp_path, sequences_dir):
    from stmtrack_plugin.adapters import got10k_experiments as gx

    root = tmp_path / "UAV123"
    _link(_frames(sequences_dir, "uav_boat1", N + 4), root / "data_seq" / "UAV123" / "boat1",
          "%06d.jpg")  # the folder holds more frames than the long sequence's annotation
    gt = _gt(sequences_dir, "uav_boat1")
    gt[3] = np.nan  # UAV20L marks frames without the target NaN
    _write_gt(root / "anno" / "UAV20L" / "boat1.txt", gt)
    exp = gx.make_experiment("uav20l", str(root), str(tmp_path / "res"), str(tmp_path / "rep"))
    frames, anno = exp.dataset[0]
    assert len(frames) == N and frames[-1].endswith("boat1/%06d.jpg" % N)
    _assert_ope_report(_run(exp), ["boat1"])
    assert (tmp_path / "res" / "UAV20L" / "T" / "boat1.txt").is_file()


def _cli(tmp_path, benchmark, root, *extra):
    argv = ["eval", "--benchmark", benchmark, "--root", str(root), "--tracker", "mil",
            "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", "--name", "Ours", *extra]
    return stmtrack_main(argv)


def test_got10k_test_split_writes_the_server_zip(tmp_path, sequences_dir, capsys):
    root = tmp_path / "GOT10k"
    names = ("GOT-10k_Test_000001", "GOT-10k_Test_000002")
    for name, shared in zip(names, ("Crossing", "Couple")):
        _link(_frames(sequences_dir, shared), root / "test" / name, "%08d.jpg")
        _write_gt(root / "test" / name / "groundtruth.txt", _gt(sequences_dir, shared)[:1])
    (root / "test" / "list.txt").write_text("\n".join(names) + "\n")
    assert _cli(tmp_path, "got10k", root, "--split", "test") == 0
    zpath = tmp_path / "results" / "GOT-10k" / "Ours.zip"
    assert str(zpath) in capsys.readouterr().out
    results = tmp_path / "results" / "GOT-10k" / "Ours"
    assert (results / ".stmtrack").is_dir()  # resume records exist, but stay out of the zip
    with zipfile.ZipFile(zpath) as zf:
        assert sorted(zf.namelist()) == sorted(f"{n}/{n}{s}" for n in names
                                               for s in ("_001.txt", "_time.txt"))
        for n in names:
            boxes = np.loadtxt(zf.open(f"{n}/{n}_001.txt"), delimiter=",")
            assert boxes.shape == (N, 4)
            assert np.array_equal(boxes, np.loadtxt(results / n / f"{n}_001.txt", delimiter=","))
            times = np.loadtxt(zf.open(f"{n}/{n}_time.txt"))
            stored = np.loadtxt(results / n / f"{n}_time.txt")
            assert np.isnan(stored[0]) and np.all(np.isfinite(times)) and np.all(times > 0)
            assert np.array_equal(times[1:], np.round(stored[1:], 8))
            # got10k's (and the server's) speed, the mean of 1/t, is the tracking speed
            assert np.mean(1 / times) == pytest.approx(np.mean(1 / stored[1:]), rel=1e-6)


def test_trackingnet_test_split_writes_the_server_zip(tmp_path, sequences_dir, capsys):
    root = tmp_path / "TrackingNet"
    n = 12  # 0.jpg .. 11.jpg: natural order, 10.jpg after 9.jpg
    names = ("-3TIfnTSM6c_2", "a1qoB1eERn0_0")
    for name, shared in zip(names, ("Crossing", "Couple")):
        _link(_frames(sequences_dir, shared, n), root / "TEST" / "frames" / name, "%d.jpg",
              start=0)
        _write_gt(root / "TEST" / "anno" / f"{name}.txt", _gt(sequences_dir, shared)[:1])
    stale = tmp_path / "results" / "TrackingNet" / "Ours" / "not_in_the_split.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("1,2,3,4\n")  # only the split's sequences are packed
    assert _cli(tmp_path, "trackingnet", root, "--split", "test", "--max-frames", str(n)) == 0
    zpath = tmp_path / "results" / "TrackingNet" / "Ours.zip"
    out = capsys.readouterr()
    assert str(zpath) in out.out and "warning: --max-frames 12 truncated" in out.err
    assert (tmp_path / "results" / "TrackingNet" / "Ours" / ".stmtrack").is_dir()
    with zipfile.ZipFile(zpath) as zf:
        assert sorted(zf.namelist()) == sorted(f"{name}.txt" for name in names)
        for name, shared in zip(names, ("Crossing", "Couple")):
            boxes = np.loadtxt(zf.open(f"{name}.txt"), delimiter=",")
            assert boxes.shape == (n, 4)
            assert np.allclose(boxes[0], _gt(sequences_dir, shared)[0])


def test_submission_times_keep_the_tracking_speed():
    from stmtrack_plugin.adapters.submission import submission_times
    from stmtrack_plugin.evaluation.metrics import tracking_fps

    t = np.array([np.nan, 0.05, 0.1, 0.025])
    out = np.array([float(v) for v in submission_times(t).split()])
    assert np.all(np.isfinite(out)) and np.array_equal(out[1:], t[1:])
    assert np.mean(1 / out) == pytest.approx(tracking_fps(t))
    with pytest.raises(ValueError, match="no timed frame"):
        submission_times([np.nan])


def test_pysot_dataset_names_take_protocol_and_parameters_from_the_table():
    from stmtrack_plugin.adapters.benchmarks import default_params, is_reset_dataset

    assert all(is_reset_dataset(n) for n in ("VOT2016", "VOT2018", "VOT2019", "vot"))
    assert not any(is_reset_dataset(n) for n in ("OTB100", "UAV123", "LaSOT", "unknown"))
    assert default_params("VOT2019") == "vot2018" and default_params("OTB100") == "otb"
    assert default_params("SomethingElse") == "default"
