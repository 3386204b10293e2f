"""Start-up: building the model from a checkpoint reads the file once, runs no random
initialisation (the file overwrites every tensor), and gives bit for bit the model of a plain
build + strict load."""
import dataclasses

import pytest
import torch

from stmtrack_plugin.model import (LEGACY_BLOCKS, CheckpointError, build_model,
                                   build_model_from_checkpoint, load_checkpoint, save_checkpoint)


@pytest.fixture()
def tiny_file(tmp_path, tiny_model_config):
    torch.manual_seed(3)
    model = build_model(tiny_model_config)
    path = tmp_path / "tiny.pth"
    save_checkpoint(model, str(path), epoch=1)
    return path, model


def _plain(path, config):
    model = build_model(config)
    load_checkpoint(model, str(path))
    return model.eval()


def test_same_tensors_and_outputs_as_a_plain_build(tiny_file, tiny_model_config):
    path, _ = tiny_file
    fast, plain = build_model_from_checkpoint(str(path)), _plain(path, tiny_model_config)
    a, b = fast.state_dict(), plain.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].device.type == "cpu", key
        assert torch.equal(a[key], b[key]), key
    assert [p.requires_grad for p in fast.parameters()] == \
        [p.requires_grad for p in plain.parameters()]
    assert not fast.training
    gen = torch.Generator().manual_seed(0)
    frames = torch.rand(2, 3, 129, 129, generator=gen) * 255
    fg_bg = (torch.rand(2, 1, 129, 129, generator=gen) > 0.5).float()
    with torch.no_grad():
        out_fast = fast.track(frames[:1], fast.memorize(frames, fg_bg))
        out_plain = plain.track(frames[:1], plain.memorize(frames, fg_bg))
    for x, y in zip(out_fast, out_plain):
        assert torch.equal(x, y)


def test_no_random_init_and_one_read(tiny_file, monkeypatch):
    path, _ = tiny_file
    reads = []
    real_load = torch.load

    def counting_load(*args, **kwargs):
        reads.append(args[0])
        return real_load(*args, **kwargs)

    def refuse(tensor, *args, **kwargs):
        if not tensor.is_meta:  # PyTorch's default init on meta tensors allocates and draws nothing
            raise AssertionError("random initialisation ran for weights the file overwrites")
        return tensor

    monkeypatch.setattr(torch, "load", counting_load)
    for name in ("normal_", "trunc_normal_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(torch.nn.init, name, refuse)
    from stmtrack_plugin.model import trunks

    for name, spec in list(trunks.TRUNKS.items()):  # every trunk's own init must be skipped too
        monkeypatch.setitem(trunks.TRUNKS, name, dataclasses.replace(spec, init_weights=refuse))
    build_model_from_checkpoint(str(path))
    assert len(reads) == 1


def test_file_without_legacy_blocks_and_strictness(tmp_path, tiny_file, tiny_model_config):
    path, model = tiny_file
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith(tuple(f"{n}." for n in LEGACY_BLOCKS))}
    config = dataclasses.asdict(tiny_model_config)
    torch.save({"epoch": -1, "model_state_dict": state, "model_config": config},
               tmp_path / "nolegacy.pth")
    fast = build_model_from_checkpoint(str(tmp_path / "nolegacy.pth"))
    assert not any(t.is_meta for t in list(fast.parameters()) + list(fast.buffers()))
    bad = dict(model.state_dict())
    bad.pop("head.si")
    torch.save({"epoch": -1, "model_state_dict": bad, "model_config": config},
               tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="head.si"):
        build_model_from_checkpoint(str(tmp_path / "missing.pth"))
