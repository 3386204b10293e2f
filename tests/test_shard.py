"""`stmtrack eval --shard I/N`: N jobs fill one results folder; together they equal one run."""
import argparse
import json
from types import SimpleNamespace

import pytest

from stmtrack_plugin.adapters.shard import parse_shard, select_shard, shard_argument
from stmtrack_plugin.cli.main import main as stmtrack_main
from toolkit_helpers import served_tracker, truncated_otb_copy

SEQUENCES = ("Crossing", "Jogging-1", "bag")


def test_parse_shard_is_zero_based_and_checked():
    assert parse_shard("0/4") == (0, 4) and parse_shard(" 3 / 4 ") == (3, 4)
    for bad in ("4/4", "1/0", "-1/2", "1", "a/b", "1/2/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="0-based"):
        shard_argument("2/2")


def test_shards_partition_the_sorted_names_whatever_the_job_order():
    jobs = [SimpleNamespace(name=n) for n in ("d", "a", "e", "c", "b")]
    shares = [[j.name for j in select_shard(jobs, i, 2)] for i in range(2)]
    assert shares == [["a", "e", "c"], ["d", "b"]]  # a, c, e and b, d; in the jobs' own order
    shuffled = list(reversed(jobs))
    assert [sorted(j.name for j in select_shard(shuffled, i, 2)) for i in range(2)] == \
        [sorted(s) for s in shares]
    for count in (1, 3, 5, 8):
        names = [j.name for i in range(count) for j in select_shard(jobs, i, count)]
        assert sorted(names) == ["a", "b", "c", "d", "e"]  # every sequence exactly once
    with pytest.raises(ValueError, match="unique"):
        select_shard(jobs + [SimpleNamespace(name="a")], 0, 2)


@pytest.fixture()
def otb_root(tmp_path, sequences_dir):
    root = tmp_path / "OTB100"
    for name in SEQUENCES:
        truncated_otb_copy(sequences_dir / name, root, 4)
    return root


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_pysot_shards_equal_one_unsharded_run(tmp_path, otb_root, capsys):
    tracker = served_tracker(tmp_path)

    def run(results, *extra):
        return stmtrack_main(["eval", "--toolkit", "pysot", "--dataset", "OTB100", "--root",
                              str(otb_root), "--results", str(results), "--quiet",
                              *tracker.cli_args, *extra])

    assert run(tmp_path / "sharded", "--shard", "0/2") == 0
    assert "2 sequence(s) run, 0 skipped" in capsys.readouterr().out
    assert run(tmp_path / "sharded", "--shard", "1/2") == 0
    assert "1 sequence(s) run, 0 skipped" in capsys.readouterr().out
    assert run(tmp_path / "whole") == 0
    sharded, whole = _files(tmp_path / "sharded"), _files(tmp_path / "whole")
    assert sharded.keys() == whole.keys()
    boxes = [k for k in whole if k.endswith(".txt") and "/times/" not in k]
    records = [k for k in whole if "/.stmtrack/" in k]
    assert len(boxes) == 3 and len(records) == 3
    for key in boxes + records:  # boxes and provenance byte for byte (times/ are timings)
        assert sharded[key] == whole[key], key
    # the merged folder resumes as one run
    capsys.readouterr()
    assert run(tmp_path / "sharded") == 0
    assert "0 sequence(s) run, 3 skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse: "--shard must be I/N"
        run(tmp_path / "sharded", "--shard", "x")
    assert "--shard must be I/N" in capsys.readouterr().err


def test_got10k_shard_reports_only_when_every_sequence_is_there(tmp_path, sequences_dir, capsys):
    pytest.importorskip("got10k")
    tracker = served_tracker(tmp_path)
    otb_root = tmp_path / "OTB"
    for name in ("Crossing", "Couple"):  # OTB2015 names (the experiment skips other folders)
        truncated_otb_copy(sequences_dir / name, otb_root, 4)
    argv = ["eval", "--toolkit", "got10k", "--benchmark", "otb", "--root", str(otb_root),
            "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", "--name", "Ours", *tracker.cli_args]
    assert stmtrack_main(argv + ["--shard", "1/2"]) == 0
    out = capsys.readouterr().out
    assert "1 sequence(s) run" in out  # Crossing (sorted: Couple, Crossing)
    assert "report skipped: 1 of 2 sequences have no result yet" in out
    assert not (tmp_path / "reports" / "OTB2015").exists()
    assert stmtrack_main(argv + ["--shard", "0/2"]) == 0  # the last share: all there, reports
    perf = tmp_path / "reports" / "OTB2015" / "Ours" / "performance.json"
    assert set(json.loads(perf.read_text())["Ours"]["seq_wise"]) == {"Crossing", "Couple"}
