"""Seeded random weights: seed 0 equals the parity fixtures' weights, and the CLI writes them."""
import torch

from stmtrack_plugin.cli.main import main
from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.model import build_model, load_checkpoint
from stmtrack_plugin.model.random_weights import perturbed_state_dict, state_digest

PARITY_SHA256 = "6e6c3bef2a4c6ff161804f00e4b5c5ad86d74535143230e19f6553a16c427984"


def test_seed0_equals_parity_weights(reference_keys, seed0_weights):
    ours = perturbed_state_dict(reference_keys, 0)
    assert state_digest(ours) == PARITY_SHA256
    theirs = torch.load(seed0_weights, weights_only=True)["model_state_dict"]
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) and ours[k].dtype == theirs[k].dtype for k in ours)


def test_cli_random_then_inspect(tmp_path, capsys):
    out = tmp_path / "tiny.pkl"
    assert main(["weights", "random", "--seed", "3", "--out", str(out), "--model-config",
                 '{"width_mult": 0.125, "neck_channels": 32, "head_channels": 32}']) == 0
    assert "NOT trained" in capsys.readouterr().out
    assert main(["weights", "inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "OK" in text and "width_mult=0.125" in text
    model = build_model(ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32))
    load_checkpoint(model, out)
    assert model.head.si.item() == 0.5


def test_cli_inspect_bad_files_gives_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.pkl"
    bad.write_text("not a checkpoint")
    nan = tmp_path / "nan.pkl"
    assert main(["weights", "random", "--out", str(nan), "--model-config",
                 '{"width_mult": 0.125, "neck_channels": 32, "head_channels": 32}']) == 0
    payload = torch.load(nan, weights_only=True)
    payload["model_state_dict"]["head.si"] = torch.tensor(float("nan"))
    torch.save(payload, nan)
    capsys.readouterr()
    for path, message in [(bad, "cannot read checkpoint"), (tmp_path / "none.pkl", "not found"),
                          (nan, "NaN or infinite values: head.si")]:
        assert main(["weights", "inspect", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.startswith("stmtrack weights: error")
        assert len(err.strip().splitlines()) == 1
    assert main(["weights", "random", "--out", str(tmp_path / "x.pkl"), "--model-config", "{"]) == 2
    assert "--model-config is not JSON" in capsys.readouterr().err
