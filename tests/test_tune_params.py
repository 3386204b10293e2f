"""benchmarks/tune_params.py: every grid combination on every sequence, rows appended as they
finish, reruns resume, and a CSV made with other weights is refused rather than mixed."""
import csv
import importlib.util
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "tune_params.py"


def _tune():
    spec = importlib.util.spec_from_file_location("tune_params_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grid_rows_resume_and_refuse_other_weights(tiny_checkpoint, sequences_dir, tmp_path,
                                                   capsys):
    weights, params = tiny_checkpoint
    seqs = tmp_path / "seqs"
    seqs.mkdir()
    for name in ("Crossing", "bag"):
        (seqs / name).symlink_to(sequences_dir / name)
    out = tmp_path / "tune.csv"
    tune = _tune()
    argv = ["--weights", str(weights), "--params", str(params), "--sequences", str(seqs),
            "--max-frames", "3", "--grid", "window_influence=0.1,0.5", "--out", str(out)]
    assert tune.main(argv) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("# weights sha256 ") and "params" in lines[0]
    rows = list(csv.DictReader(lines[1:]))
    assert sorted((r["combo"], r["sequence"]) for r in rows) == sorted(
        (f'{{"window_influence": {v}}}', s) for v in (0.1, 0.5) for s in ("Crossing", "bag"))
    assert all(0.0 <= float(r["auc"]) <= 1.0 and r["frames"] == "3" for r in rows)
    assert "mean success AUC over 2 sequences" in capsys.readouterr().out

    assert tune.main(argv) == 0  # nothing left to run
    assert "4 rows done, 0 to run" in capsys.readouterr().out
    assert len(out.read_text().splitlines()) == len(lines)

    other = tmp_path / "other.pkl"
    shutil.copy(weights, other)
    with open(other, "ab") as f:
        f.write(b"\0")  # same tensors, another file: another sha256
    with pytest.raises(SystemExit, match="other weights, parameters or sequences"):
        tune.main(argv[:1] + [str(other)] + argv[2:])
    with pytest.raises(KeyError):
        tune.main(argv[:-4] + ["--grid", "no_such_field=1", "--out", str(tmp_path / "x.csv")])


def test_video_sequences_only_some_and_no_mixing_of_folders(tiny_checkpoint, shared_dir, tmp_path,
                                                           capsys):
    """Video-file sequences (the layout of ``../shared/data/train``), a subset by ``--only``; a
    CSV made on another sequence folder is refused."""
    weights, params = tiny_checkpoint
    clips = tmp_path / "clips"
    for name in ("otb_Skiing", "vot15_ball1", "uavdt_S0310"):
        (clips / name).mkdir(parents=True)
        for f in ("video.mp4", "groundtruth_rect.txt"):
            (clips / name / f).symlink_to(shared_dir / "data" / "train" / name / f)
    out = tmp_path / "gap.csv"
    tune = _tune()
    argv = ["--weights", str(weights), "--params", str(params), "--sequences", str(clips),
            "--max-frames", "3", "--only", "vot15_ball1,otb_Skiing", "--out", str(out)]
    assert tune.main(argv) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()[1:]))
    assert sorted(r["sequence"] for r in rows) == ["otb_Skiing", "vot15_ball1"]
    assert all(r["frames"] == "3" and 0.0 <= float(r["auc"]) <= 1.0 for r in rows)
    assert "mean success AUC over 2 sequences" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not in"):
        tune.main(argv[:-4] + ["--only", "otb_Skiing,no_such_clip", "--out", str(out)])
    other = tmp_path / "other"
    shutil.copytree(clips, other, symlinks=True)
    with pytest.raises(SystemExit, match="other weights, parameters or sequences"):
        tune.main(argv[:5] + [str(other)] + argv[6:])
