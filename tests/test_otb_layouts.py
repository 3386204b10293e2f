"""Real OTB-100 folder quirks on small synthetic copies: multi-target folders (Jogging, Skating2,
Human4 with groundtruth_rect.<k>.txt) and folders with more frames than ground-truth lines (David
300-770, Football1 1-74, ...), in every runner, in `stmtrack compare`, and got10k's listing."""
import os
from pathlib import Path

import numpy as np
import pytest

from stmtrack_plugin.utils.sequences import (OTB_RULES, find_otb_sequences, load_otb_sequence,
                                             split_target)


def _frames(folder: Path, numbers, size=(40, 48)):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    image = np.full((*size, 3), 90, np.uint8)
    for n in numbers:
        image[:, :, 0] = n % 256  # distinct frames
        cv2.imwrite(str(folder / f"{n:04d}.jpg"), image)


def _gt(path: Path, n: int, x0: float = 5.0):
    path.write_text("".join(f"{x0 + i % 3},{6 + i % 2},12,14\n" for i in range(n)))


def make_otb_root(root: Path) -> Path:
    """Jogging/Skating2 (2 targets), Human4 (empty target 1), David (770 frames, 471 lines),
    Football1 (80 frames, 74 lines), Crossing (plain), plus a non-OTB folder and a misnamed one."""
    for name in ("Jogging", "Skating2", "Human4"):
        _frames(root / name / "img", range(1, 7))
    for k, x0 in ((1, 5.0), (2, 20.0)):
        _gt(root / "Jogging" / f"groundtruth_rect.{k}.txt", 6, x0)
        _gt(root / "Skating2" / f"groundtruth_rect.{k}.txt", 6, x0)
    (root / "Human4" / "groundtruth_rect.1.txt").write_text("")  # empty, as in the release
    _gt(root / "Human4" / "groundtruth_rect.2.txt", 6, 9.0)
    _frames(root / "David" / "img", range(1, 771), size=(24, 32))
    _gt(root / "David" / "groundtruth_rect.txt", 471)
    _frames(root / "Football1" / "img", range(1, 81))
    _gt(root / "Football1" / "groundtruth_rect.txt", 74)
    for name in ("Crossing", "bag", "crossing"):
        _frames(root / name / "img", range(1, 5))
        _gt(root / name / "groundtruth_rect.txt", 4)
    return root


OURS = ["Crossing", "David", "Football1", "Human4-2", "Jogging-1", "Jogging-2", "Skating2-1",
        "Skating2-2", "bag", "crossing"]


@pytest.fixture(scope="module")
def otb_root(tmp_path_factory):
    return make_otb_root(tmp_path_factory.mktemp("otb"))


def test_names_and_frame_ranges_as_the_otb_toolkit(otb_root):
    assert find_otb_sequences(str(otb_root)) == OURS
    jog2 = load_otb_sequence(str(otb_root / "Jogging-2"))
    assert jog2.name == "Jogging-2" and len(jog2) == 6 and jog2.groundtruth[0, 0] == 20.0
    david = load_otb_sequence(str(otb_root / "David"))
    assert len(david) == 471 and os.path.basename(david.frames[0]) == "0300.jpg"
    assert os.path.basename(david.frames[-1]) == "0770.jpg"
    assert len(load_otb_sequence(str(otb_root / "Football1"))) == 74
    with pytest.raises(ValueError, match="Jogging-1, Jogging-2"):
        load_otb_sequence(str(otb_root / "Jogging"))
    assert OTB_RULES["Human4"].targets == (2,)


def test_table_agrees_with_got10k_otb_dataset(otb_root):
    """got10k's OTB dataset (its own range and target code) reads the same frames and boxes."""
    pytest.importorskip("got10k")
    import contextlib
    import io

    from got10k.datasets import OTB

    with contextlib.redirect_stdout(io.StringIO()):
        data = OTB(str(otb_root), 2015, download=False)
    got10k_name = {"Human4-2": "Human4", "Jogging-1": "Jogging.1", "Jogging-2": "Jogging.2",
                   "Skating2-1": "Skating2.1", "Skating2-2": "Skating2.2"}
    for name in ["Crossing", "David", "Football1"] + list(got10k_name):
        frames, anno = data[got10k_name.get(name, name)]
        seq = load_otb_sequence(str(otb_root / name))
        assert list(frames) == seq.frames, name
        assert np.array_equal(anno, seq.groundtruth), name


def test_vot_workspace_converts_targets_and_ranges(tmp_path, otb_root):
    from stmtrack_plugin.adapters.vot_workspace import WorkspaceOptions, prepare_workspace

    names = prepare_workspace(str(tmp_path / "ws"), str(otb_root),
                              WorkspaceOptions(eao_interval=(2, 4)))
    assert names == OURS
    seqs = tmp_path / "ws" / "sequences"
    assert "length=471" in (seqs / "David" / "sequence").read_text()
    assert os.readlink(seqs / "David" / "color" / "00000001.jpg").endswith("David/img/0300.jpg")
    gt = np.loadtxt(seqs / "Jogging-2" / "groundtruth.txt", delimiter=",")
    assert np.allclose(gt[0], [19, 5, 12, 14])  # target 2, 0-based


def test_pysot_jobs_use_targets_and_ranges(tmp_path, otb_root):
    from stmtrack_plugin.adapters import pysot

    jobs = {j.name: j for j in pysot.make_jobs(str(otb_root), "OTB100", str(tmp_path), "T")}
    assert sorted(jobs) == OURS
    assert len(jobs["David"].frames) == len(jobs["David"].groundtruth) == 471
    assert jobs["Human4-2"].groundtruth[0, 0] == 9.0


def test_got10k_lists_run_and_skipped_folders(tmp_path, otb_root, capsys):
    pytest.importorskip("got10k")
    from stmtrack_plugin.adapters import got10k_experiments as gx
    from stmtrack_plugin.cli.main import main as stmtrack_main

    exp = gx.make_experiment("otb", str(otb_root), str(tmp_path / "r"), str(tmp_path / "p"))
    jobs = {j.name: j for j in gx.make_jobs(exp, "T")}
    assert sorted(jobs) == ["Crossing", "David", "Football1", "Human4", "Jogging.1",
                            "Jogging.2", "Skating2.1", "Skating2.2"]
    assert len(jobs["David"].frames) == 471
    argv = ["eval", "--toolkit", "got10k", "--benchmark", "otb", "--root", str(otb_root),
            "--results", str(tmp_path / "r"), "--reports", str(tmp_path / "p"), "--quiet",
            "--tracker", "mil", "--max-frames", "2", "--no-report"]
    assert stmtrack_main(argv) == 0
    err = capsys.readouterr().err
    assert "running 8 sequence(s): Crossing, David, Football1, Human4, Jogging.1" in err
    assert "skipped 2 folder(s): bag (not an OTB2015 sequence name), crossing (not an OTB2015 " \
           "sequence name; rename it Crossing)" in err


def test_compare_reads_got10k_and_pytracking_target_names(tmp_path, otb_root):
    from stmtrack_plugin.evaluation.compare import find_result_file, score_trackers

    gt = {n: load_otb_sequence(str(otb_root / n)).groundtruth
          for n in ("Jogging-1", "Jogging-2", "Human4-2")}
    for tracker, names in (("got10k", ("Jogging.1", "Jogging.2", "Human4")),
                           ("pytracking", ("Jogging_1", "Jogging_2", "Human4_2"))):
        (tmp_path / tracker).mkdir()
        for video, name in zip(gt, names):
            np.savetxt(tmp_path / tracker / f"{name}.txt", gt[video], delimiter=",")
    assert find_result_file(str(tmp_path / "got10k"), "Jogging-2").endswith("Jogging.2.txt")
    scores, skipped = score_trackers(gt, str(tmp_path), ["got10k", "pytracking"])
    assert skipped == [] and all(len(s.per_video) == 3 for s in scores)


def test_track_source_accepts_a_target_name(otb_root):
    from stmtrack_plugin.utils.video import open_source

    src = open_source(str(otb_root / "Jogging-2"))
    assert src.name == "Jogging-2" and src.count == 6 and src.groundtruth[0, 0] == 20.0


def test_split_target():
    assert split_target("Jogging-2") == ("Jogging", 2)
    assert split_target("Crossing") == ("Crossing", None)
