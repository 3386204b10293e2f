"""benchmarks/compute_dtype_accuracy.py (reduced dtype or the float32 control against the exact
path, resumable) and benchmarks/bench_batch.py (sequential, batched and process-parallel)."""
import json
import os
import re
import subprocess
import sys

import pytest

from bench_helpers import BENCHMARKS, load_benchmark


def _rows(out: str):
    """{sequence: [columns]} of compute_dtype_accuracy's per-run lines."""
    rows = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) == 10 and cols[2].isdigit():
            rows[cols[0]] = cols[1:]
    return rows


def test_plain_control_and_bfloat16_resume_per_weights_and_dtype(tiny_checkpoint, shared_dir,
                                                                  tiny_model_config, tmp_path,
                                                                  capsys, monkeypatch):
    from stmtrack_plugin.model import build_model, save_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    weights, params = tiny_checkpoint
    bench = load_benchmark("compute_dtype_accuracy")
    out = tmp_path / "acc.json"
    common = ["--root", str(shared_dir / "data" / "sequences"), "--sequences", "Crossing",
              "--params", str(params), "--weights", str(weights), "--frames", "4",
              "--threads", "1", "--out", str(out)]

    assert bench.main(common + ["--dtype", "plain"]) == 0
    text = capsys.readouterr().out
    row = _rows(text)["Crossing"]
    assert row[1] == "4" and float(row[2]) > 0.999  # float32 summation order only
    assert 0.0 <= float(row[5]) <= 1.0 and row[5] == row[6]  # ground-truth AUC of both paths
    assert "smallest per-run mean IoU" in text
    stored = json.loads(out.read_text())
    (key,) = stored
    assert key.endswith("|Crossing|plain|4") and key.startswith(bench.weights_id(str(weights)))
    assert set(stored[key]) >= {"mean_iou", "min_iou", "max_box_diff_px", "ms_float32",
                                "ms_plain", "auc_float32", "auc_plain"}
    assert "mean success AUC over 1 runs: float32 " in text

    # resumed: the stored run is reused as it is (a changed figure shows it was not recomputed)
    stored[key]["mean_iou"] = 0.5
    out.write_text(json.dumps(stored))
    assert bench.main(common + ["--dtype", "plain"]) == 0
    assert _rows(capsys.readouterr().out)["Crossing"][2] == "0.5000"

    # a run stored before the AUC columns existed is run again
    del stored[key]["auc_float32"]
    out.write_text(json.dumps(stored))
    assert bench.main(common + ["--dtype", "plain"]) == 0
    assert float(_rows(capsys.readouterr().out)["Crossing"][2]) > 0.999
    stored = json.loads(out.read_text())
    assert "auc_float32" in stored[key]
    stored[key]["mean_iou"] = 0.5
    out.write_text(json.dumps(stored))

    # another dtype, or other weights, is another run
    assert bench.main(common + ["--dtype", "bfloat16"]) == 0
    capsys.readouterr()
    other = tmp_path / "other.pkl"
    save_checkpoint(randomize_model(build_model(tiny_model_config), seed=4).eval(), other)
    at = common.index(str(weights))
    assert bench.main(common[:at] + [str(other)] + common[at + 1:] + ["--dtype", "plain"]) == 0
    capsys.readouterr()
    keys = json.loads(out.read_text())
    assert len(keys) == 3 and keys[key]["mean_iou"] == 0.5
    assert sum(k.startswith(bench.weights_id(str(other))) for k in keys) == 1


def _bench_batch(shared_dir, *extra):
    env = dict(os.environ, STMTRACK_SHARED=str(shared_dir), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(BENCHMARKS / "bench_batch.py"), "--models", "lite",
                          "--frames", "3", "--ks", "1", "2", *extra], capture_output=True,
                         text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_bench_batch_prints_sequential_batched_and_process_columns(shared_dir):
    lines = _bench_batch(shared_dir, "--threads", "1", "--workers", "2")
    assert lines[0].startswith("cpu: ") and "torch threads 1" in lines[0]
    assert lines[0].endswith("; malloc freed memory kept (mmap/trim threshold 1 GiB)")
    head = lines.index("model lite: 3 frames per sequence")
    assert lines[head + 1].split() == ["K", "seq", "ms/frame", "seq", "fps", "faults/fr",
                                       "batch", "ms/frame", "batch", "fps", "faults/fr",
                                       "speed-up", "2", "procs", "fps", "speed-up"]
    num = r"\d+\.\d+"
    for k, line in zip((1, 2), lines[head + 2:head + 4]):
        assert re.fullmatch(rf"\s*{k} +{num} +{num} +\d+ +{num} +{num} +\d+ +{num}x +{num} +{num}x",
                            line), line


@pytest.mark.parametrize("extra, batched", [
    (["--parallel-stages"], "1 lane(s), parallel_stages, 1 torch thread(s)"),
    (["--lanes", "2"], "2 lane(s), 1 torch thread(s)")])
def test_bench_batch_lanes_parallel_stages_and_default_malloc(shared_dir, extra, batched):
    lines = _bench_batch(shared_dir, "--threads", "2", "--malloc", "default", *extra)
    assert lines[0].endswith("; malloc glibc default") and "torch threads 2" in lines[0]
    assert lines[1] == f"batched: {batched}; sequential: default tracker on 2"
    head = lines.index("model lite: 3 frames per sequence")
    assert [line.split()[0] for line in lines[head + 2:head + 4]] == ["1", "2"]
