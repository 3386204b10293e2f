"""benchmarks/bench_modes.py: every mode on a fixed list of shared sequences, peak RSS measured
in a child process per mode, and a header naming the machine, threads and load."""
import re
import sys

import pytest

from bench_helpers import BENCHMARKS, load_benchmark

NUMBER = r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def _bench_modes():
    return load_benchmark("bench_modes")


def _rows(lines, start):
    """{mode: [columns]} of the table whose header line follows ``lines[start]``."""
    assert lines[start + 1].split()[:3] == ["mode", "ms/frame", "FPS"]
    rows = {}
    for line in lines[start + 2:]:
        cols = line.split()
        if not cols or cols[0] not in ("plain", "exact", "bfloat16", "crops", "parallel"):
            break
        rows[cols[0]] = cols[1:]
    return rows


def test_every_mode_on_the_shared_sequences_with_rss_and_machine(tiny_checkpoint, shared_dir,
                                                                  capsys, monkeypatch):
    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    weights, params = tiny_checkpoint
    bench = _bench_modes()
    assert bench.main(["--sequences", "Crossing", "Car4", "--frames", "3", "--weights",
                       str(weights), "--params", str(params), "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()

    machine = lines[0]
    assert machine.startswith("machine: ") and "cores" in machine
    assert re.search(r"torch \d", machine) and "threads: torch 1" in machine
    assert "OMP_NUM_THREADS=1" in machine and "OMP_WAIT_POLICY=" in machine
    assert re.fullmatch(rf"load average \(1 min\): {NUMBER} at start, {NUMBER} at end", lines[1])
    assert f"weights {weights}" in lines[2] and "params tiny" in lines[2]

    modes = ["plain", "exact", "bfloat16", "crops", "parallel"]
    for name in ("Crossing", "Car4"):
        at = lines.index(f"{name}: frames 0-2 (2 tracked)")
        assert list(_rows(lines, at)) == modes
    at = lines.index("all 2 sequences (4 tracked frames; median over all of them)")
    summary = _rows(lines, at)
    assert list(summary) == modes
    for mode, cols in summary.items():
        # ms/frame, FPS, vs plain, max |dbox|, mean IoU, peak RSS, after build
        assert len(cols) == 7, (mode, cols)
        ms, fps, speed, dbox, iou, peak, built = cols
        assert float(ms) > 0 and float(fps) == pytest.approx(1e3 / float(ms), rel=0.02)
        assert re.fullmatch(rf"{NUMBER}x", speed) and float(dbox) >= 0
        assert 0.0 <= float(iou) <= 1.0
        assert float(peak) >= float(built) > 0  # parsed from the child's JSON line
    assert summary["plain"][2] == "1.00x"
    assert float(summary["exact"][3]) == 0.0 and float(summary["exact"][4]) == 1.0
    # crops mode is exact in float32: its boxes match the features mode (up to float noise)
    assert float(summary["crops"][3]) < 1e-3
    # parallel stages run the same operations: the same boxes bit for bit
    assert float(summary["parallel"][3]) == 0.0 and float(summary["parallel"][4]) == 1.0
    assert lines[-1].startswith("peak RSS: high-water mark of resident memory (VmHWM) of one "
                                "child process per mode")


def test_rss_child_reports_json(tiny_checkpoint, shared_dir, capsys, monkeypatch):
    import json

    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    weights, params = tiny_checkpoint
    bench = _bench_modes()
    assert bench.main(["--sequences", "Crossing", "--frames", "2", "--weights", str(weights),
                       "--params", str(params), "--rss-child", "crops"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mode"] == "crops" and result["tracked_frames"] == 1
    assert result["peak_rss_mb"] >= result["after_build_mb"] > 0


def test_unknown_sequence_is_a_clear_error(shared_dir, monkeypatch):
    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    with pytest.raises(FileNotFoundError, match="sequence 'NoSuchClip'"):
        _bench_modes().main(["--sequences", "NoSuchClip", "--frames", "2", "--no-rss"])


def test_peak_rss_of_a_child_is_its_own(tmp_path):
    """A child started by this (torch-sized) process reports its own peak, not the parent's
    (``ru_maxrss`` keeps the parent's peak across fork + exec)."""
    import resource
    import subprocess

    import torch  # noqa: F401  (a process of torch's size)

    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    code = ("import sys; sys.path.insert(0, sys.argv[1]); "
            "from _bench_common import peak_rss_mb; print(peak_rss_mb())")
    child = float(subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)],
                                 capture_output=True, text=True, check=True).stdout)
    assert parent > 150 and 0 < child < 100, (parent, child)
