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
    with pytest.raises(SystemExit, match="other weights or parameters"):
        tune.main(argv[:1] + [str(other)] + argv[2:])
    with pytest.raises(KeyError):
        tune.main(argv[:-4] + ["--grid", "no_such_field=1", "--out", str(tmp_path / "x.csv")])
