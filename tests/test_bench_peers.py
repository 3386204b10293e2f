"""benchmarks/bench_peers.py: STMTrack and the OpenCV peers timed side by side on the same
frames, with the machine and load named and missing peers listed as skipped."""
import re

from bench_helpers import load_benchmark


def _bench_peers():
    return load_benchmark("bench_peers")


def test_trackers_side_by_side(tiny_checkpoint, shared_dir, capsys, monkeypatch):
    import cv2

    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    weights, params = tiny_checkpoint
    bench = _bench_peers()
    assert bench.main(["--sequences", "Crossing", "--frames", "4", "--weights", str(weights),
                       "--params", str(params), "--peers", "mil", "kcf"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("load average (1 min): ")
    assert lines[3].split() == ["tracker", "ms/frame", "FPS", "mean", "IoU"]
    rows = {}
    for line in lines[4:]:
        m = re.fullmatch(r"(.+?)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d\.\d{3})", line)
        if m:
            rows[m.group(1)] = [float(v) for v in m.groups()[1:]]
    assert "stmtrack (tiny)" in rows and "mil" in rows
    for ms, fps, iou in rows.values():
        assert ms > 0 and abs(fps * ms / 1e3 - 1) < 0.02 and 0 <= iou <= 1
    has_kcf = hasattr(cv2, "TrackerKCF") or hasattr(getattr(cv2, "legacy", None), "TrackerKCF_create")
    assert ("kcf" in rows) == has_kcf
    assert any(line.startswith("skipped kcf:") for line in lines) == (not has_kcf)
