"""benchmarks/int8_probe.py: the parts really are quantized to int8 (quantized conv modules,
calibrated on real crops), their outputs stay close to float32, and the table is printed."""
import re

import pytest
import torch

from bench_helpers import load_benchmark


def _probe():
    return load_benchmark("int8_probe")


@pytest.mark.filterwarnings("ignore")
def test_quantized_tower_is_int8_and_close(tiny_checkpoint, shared_dir, monkeypatch):
    from torch.ao.nn.quantized import Conv2d as QuantizedConv2d

    from stmtrack_plugin.model import build_model_from_checkpoint

    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    weights, _ = tiny_checkpoint
    probe = _probe()
    model = build_model_from_checkpoint(str(weights)).eval()
    torch.manual_seed(0)
    inputs = [torch.randn(1, 64, 9, 9) for _ in range(6)]
    tower = probe.quantize(model.head.reg, inputs[:4])
    assert any(isinstance(m, QuantizedConv2d) for m in tower.modules())
    assert 0 < probe.rel_error(model.head.reg, tower, inputs[4:]) < 0.2


@pytest.mark.filterwarnings("ignore")
def test_table(tiny_checkpoint, shared_dir, capsys, monkeypatch):
    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    weights, params = tiny_checkpoint
    probe = _probe()
    assert probe.main(["--weights", str(weights), "--params", str(params), "--sequences",
                       "Crossing", "--calib", "2", "--held-out", "1", "--rounds", "1",
                       "--memory", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ")
    rows = [line for line in lines if re.fullmatch(
        r"(query trunk|cls_ctr tower|reg tower)\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\dx\s+\d+\.\d{3}",
        line)]
    assert len(rows) == 3
    assert re.search(r"at best: \d+\.\d\d ms \(\d+\.\d\dx\)", lines[-1])
