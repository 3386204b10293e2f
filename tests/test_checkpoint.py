"""Checkpoint loading: the authors' layouts load unchanged; anything else is a clear error."""
import collections

import pytest
import torch

from stmtrack_plugin.model import (
    CheckpointError, build_model, build_model_from_checkpoint, load_checkpoint, model_config_of,
    save_checkpoint)


@pytest.fixture()
def tiny(tiny_model_config):
    torch.manual_seed(1)
    return build_model(tiny_model_config)


def _state(model):
    return collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())


def _assert_same(model, state):
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_authors_layout_with_optimizer_state(tmp_path, tiny, tiny_model_config):
    state = _state(tiny)
    opt = torch.optim.SGD([p for p in tiny.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    path = tmp_path / "epoch-19.pkl"
    torch.save({"epoch": 19, "model_state_dict": state, "optimizer_state_dict": opt.state_dict()}, path)
    fresh = build_model(tiny_model_config)
    info = load_checkpoint(fresh, path)
    assert info["epoch"] == 19
    _assert_same(fresh, state)


@pytest.mark.parametrize("variant", ["bare", "module_prefix", "no_legacy_blocks"])
def test_accepted_variants(tmp_path, tiny, tiny_model_config, variant):
    state = _state(tiny)
    if variant == "module_prefix":
        payload = {"model_state_dict": {"module." + k: v for k, v in state.items()}}
    elif variant == "no_legacy_blocks":
        payload = {"epoch": 0, "model_state_dict": {
            k: v for k, v in state.items() if k.split(".")[0] not in ("r_z_k", "c_z_k", "r_x", "c_x")}}
    else:
        payload = state
    torch.save(payload, tmp_path / "w.pth")
    fresh = build_model(tiny_model_config)
    load_checkpoint(fresh, tmp_path / "w.pth")
    for k, v in fresh.state_dict().items():
        if not k.startswith(("r_z_k", "c_z_k", "r_x", "c_x")):
            assert torch.equal(v, state[k]), k


def test_truncated_file(tmp_path, tiny):
    path = tmp_path / "w.pkl"
    save_checkpoint(tiny, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(tiny, path)


def test_not_a_torch_file(tmp_path, tiny):
    path = tmp_path / "w.pkl"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(tiny, path)


def test_missing_file(tmp_path, tiny):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tiny, tmp_path / "nope.pkl")


def test_renamed_key_names_both_sides(tmp_path, tiny):
    state = _state(tiny)
    state["head.cls_score.conv.weightX"] = state.pop("head.cls_score.conv.weight")
    torch.save({"model_state_dict": state}, tmp_path / "w.pkl")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tiny, tmp_path / "w.pkl")
    msg = str(err.value)
    assert "1 missing key(s): head.cls_score.conv.weight" in msg
    assert "1 unexpected key(s): head.cls_score.conv.weightX" in msg


def test_missing_key(tmp_path, tiny):
    state = _state(tiny)
    del state["basemodel_m.proj_fg_bg_label_map.weight"]
    torch.save({"model_state_dict": state}, tmp_path / "w.pkl")
    with pytest.raises(CheckpointError, match="missing key.*proj_fg_bg_label_map"):
        load_checkpoint(tiny, tmp_path / "w.pkl")


def test_wrong_shape_names_key_and_shapes(tmp_path, tiny):
    state = _state(tiny)
    state["neck_q.adjustor.bias"] = torch.zeros(7)
    torch.save({"model_state_dict": state}, tmp_path / "w.pkl")
    with pytest.raises(CheckpointError, match=r"neck_q\.adjustor\.bias \(file \(7,\), model \(32,\)\)"):
        load_checkpoint(tiny, tmp_path / "w.pkl")


def test_full_model_rejects_tiny_checkpoint(tmp_path, tiny):
    save_checkpoint(tiny, tmp_path / "tiny.pkl")
    with pytest.raises(CheckpointError, match="wrongly shaped"):
        load_checkpoint(build_model(), tmp_path / "tiny.pkl")


class _Custom:
    pass


def test_weights_only_refuses_pickled_objects(tmp_path, tiny):
    torch.save({"model_state_dict": _state(tiny), "extra": _Custom()}, tmp_path / "w.pkl")
    with pytest.raises(CheckpointError, match="weights_only=False"):
        load_checkpoint(tiny, tmp_path / "w.pkl")
    load_checkpoint(tiny, tmp_path / "w.pkl", weights_only=False)  # explicit opt-in works


def test_save_records_config_and_rebuilds(tmp_path, tiny, tiny_model_config):
    path = tmp_path / "sub" / "epoch-2.pkl"
    save_checkpoint(tiny, path, epoch=2)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"epoch", "model_state_dict", "model_config"} and raw["epoch"] == 2
    assert model_config_of(path) == tiny_model_config
    rebuilt = build_model_from_checkpoint(path)
    assert not rebuilt.training
    _assert_same(rebuilt, _state(tiny))
    assert not list(tmp_path.glob("sub/*.tmp-*"))


def test_authors_file_without_config_means_default(tmp_path, tiny):
    torch.save({"epoch": -1, "model_state_dict": _state(tiny)}, tmp_path / "w.pkl")
    assert model_config_of(tmp_path / "w.pkl") == type(tiny.config)()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_keys(tmp_path, tiny, bad):
    state = _state(tiny)
    names = sorted(k for k, v in state.items() if v.is_floating_point())[:14]
    for k in names:
        state[k] = torch.full_like(state[k], bad)
    save_checkpoint(tiny, tmp_path / "w.pkl")
    payload = torch.load(tmp_path / "w.pkl", weights_only=True)
    payload["model_state_dict"] = state
    torch.save(payload, tmp_path / "w.pkl")
    for load in (lambda: load_checkpoint(tiny, tmp_path / "w.pkl"),
                 lambda: build_model_from_checkpoint(tmp_path / "w.pkl")):
        with pytest.raises(CheckpointError, match="14 tensor.*NaN or infinite") as err:
            load()
        assert names[0] in str(err.value) and "(2 more)" in str(err.value)


def _with_config(tmp_path, tiny, **changes):
    save_checkpoint(tiny, tmp_path / "w.pkl")
    payload = torch.load(tmp_path / "w.pkl", weights_only=True)
    payload["model_config"].update(changes)
    torch.save(payload, tmp_path / "w.pkl")
    return tmp_path / "w.pkl"


def test_huge_config_is_refused_before_anything_is_built(tmp_path, tiny, monkeypatch):
    """head_channels 200000 would ask for ~1.4 TB: refused from the config alone."""
    import stmtrack_plugin.model.checkpoint as ckpt_module

    def no_build(*args, **kwargs):
        raise AssertionError("a model was built from an unvalidated config")

    path = _with_config(tmp_path, tiny, head_channels=200000)
    monkeypatch.setattr(ckpt_module, "build_model", no_build)
    with pytest.raises(CheckpointError, match="'head_channels' = 200000 is outside"):
        build_model_from_checkpoint(path)
    with pytest.raises(CheckpointError, match="head_channels"):
        model_config_of(path)


@pytest.mark.parametrize("field,value,match", [
    ("head_channels", "32", "must be int"),
    ("head_channels", 32.0, "must be int"),
    ("head_num_convs", True, "must be int"),
    ("width_mult", float("nan"), "outside"),
    ("width_mult", "0.125", "must be float"),
    ("neck_channels", -4, "outside"),
    ("bogus", 1, "unknown model_config field"),
])
def test_bad_model_config_fields_are_named(tmp_path, tiny, field, value, match):
    path = _with_config(tmp_path, tiny, **{field: value})
    with pytest.raises(CheckpointError, match=match) as err:
        build_model_from_checkpoint(path)
    assert field in str(err.value)


def test_config_in_range_but_not_fitting_the_tensors_builds_nothing(tmp_path, tiny, monkeypatch):
    """A plausible config that disagrees with the file's shapes is found on the meta device."""
    import stmtrack_plugin.model.checkpoint as ckpt_module

    real_build = ckpt_module.build_model
    devices = []

    def spy(config, **kwargs):
        model = real_build(config, **kwargs)
        devices.append(next(model.parameters()).device.type)
        return model

    path = _with_config(tmp_path, tiny, head_channels=256, head_num_convs=8)
    monkeypatch.setattr(ckpt_module, "build_model", spy)
    with pytest.raises(CheckpointError, match="wrongly shaped"):
        build_model_from_checkpoint(path)
    assert devices == ["meta"]


def test_every_model_config_field_is_validated(tmp_path, tiny):
    """Table-driven: a wrongly typed value is refused for every ModelConfig field."""
    import dataclasses

    for f in dataclasses.fields(type(tiny.config)):
        path = _with_config(tmp_path, tiny, **{f.name: [1]})
        with pytest.raises(CheckpointError, match=f.name):
            model_config_of(path)


def test_weights_export_float16_drops_optimizer_and_legacy_blocks(tmp_path, tiny, capsys):
    from stmtrack_plugin.cli.main import main
    from stmtrack_plugin.model.random_weights import randomize_model

    model = randomize_model(tiny, seed=4)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    src, out = tmp_path / "epoch-3.pkl", tmp_path / "ship.pkl"
    save_checkpoint(model, str(src), epoch=3, optimizer=opt)
    assert main(["weights", "export", str(src), "--out", str(out), "--dtype", "float16"]) == 0
    assert "no optimizer state" in capsys.readouterr().out
    raw = torch.load(out, weights_only=True)
    assert set(raw) == {"epoch", "model_state_dict", "model_config"} and raw["epoch"] == 3
    assert not any(k.startswith(("r_z_k", "c_z_k", "r_x", "c_x")) for k in raw["model_state_dict"])
    dtypes = {k: v.dtype for k, v in raw["model_state_dict"].items() if v.is_floating_point()}
    # BN running statistics stay float32 (a running variance may exceed float16's range)
    assert {k for k, d in dtypes.items() if d == torch.float32} == {
        k for k in dtypes if k.endswith((".running_mean", ".running_var"))} != set()
    assert {d for k, d in dtypes.items() if not k.endswith(("_mean", "_var"))} == {torch.float16}
    # ... so a variance of 1e9 (as the lite model's regression BN has) is exported, exactly
    payload = torch.load(src, weights_only=True)
    var_key = next(k for k in payload["model_state_dict"] if k.endswith(".running_var"))
    payload["model_state_dict"][var_key] = payload["model_state_dict"][var_key] * 0 + 1.153e9
    torch.save(payload, src)
    assert main(["weights", "export", str(src), "--out", str(out), "--dtype", "float16"]) == 0
    assert torch.load(out, weights_only=True)["model_state_dict"][var_key].max().item() == \
        pytest.approx(1.153e9)
    save_checkpoint(model, str(src), epoch=3, optimizer=opt)
    assert main(["weights", "export", str(src), "--out", str(out), "--dtype", "float16"]) == 0
    loaded = build_model_from_checkpoint(str(out))
    for k, v in loaded.state_dict().items():
        if k.startswith(("r_z_k", "c_z_k", "r_x", "c_x")):
            continue  # never used; not in the file
        assert v.dtype == model.state_dict()[k].dtype, k  # back to float32 in the model
        torch.testing.assert_close(v, model.state_dict()[k], rtol=1e-3, atol=1e-4)
    # a value float16 cannot hold is refused rather than shipped as inf
    payload = torch.load(src, weights_only=True)
    payload["model_state_dict"]["head.bi"] = torch.tensor(1e6)
    torch.save(payload, src)
    assert main(["weights", "export", str(src), "--out", str(out), "--dtype", "float16"]) == 2
    assert "head.bi" in capsys.readouterr().err
