"""benchmarks/profile_stages.py: every stage of a tracked frame timed on real crops, with the
machine named; the stages really are the network's (their outputs match one track call)."""
import re

import pytest
import torch

from bench_helpers import load_benchmark


def _profile():
    return load_benchmark("profile_stages")


@pytest.mark.parametrize("mode", ["exact", "bfloat16"])
def test_stage_table(tiny_checkpoint, shared_dir, capsys, monkeypatch, mode):
    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    weights, params = tiny_checkpoint
    prof = _profile()
    assert prof.main(["--weights", str(weights), "--params", str(params), "--mode", mode,
                      "--memory", "3", "--rounds", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and f"mode {mode}" in lines[2]
    ms = {}
    for line in lines[4:]:
        m = re.fullmatch(r"(.+?)\s+(\d+\.\d\d)\s+(\d+\.\d)%", line)
        if m:
            ms[m.group(1)] = float(m.group(2))
    assert set(ms) == set(prof.STAGES) and all(v > 0 for v in ms.values())
    total = float(lines[-1].split()[2])
    assert total == pytest.approx(ms["memorize"] + ms["track (whole)"], abs=0.02)


def test_stages_compose_to_the_track_call(tiny_checkpoint, shared_dir, monkeypatch):
    """The timed stages are the track call taken apart: chained, they give its boxes."""
    monkeypatch.setenv("STMTRACK_SHARED", str(shared_dir))
    from stmtrack_plugin.config import load_parameters

    weights, params = tiny_checkpoint
    prof = _profile()
    p = load_parameters(str(params))
    model = prof.build_network("exact", p, str(weights))
    frame, label = prof.real_inputs("Crossing", p.crop_size, p.search_area_factor)
    assert frame.shape == (1, 3, 129, 129) and 0 < label.mean() < 0.5
    calls = prof.stage_calls(model, frame, label, 2)
    with torch.inference_mode():
        _, boxes = calls["track (whole)"]()
        torch.testing.assert_close(calls["box decode"](), boxes)
