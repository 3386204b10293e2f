"""Model structure: the authors' key layout, shapes, stage methods and the training forward."""
import pytest
import torch

from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.model import LEGACY_BLOCKS, build_model, memory_read
from stmtrack_plugin.model.geometry import score_offset, score_size
from stmtrack_plugin.model.head import grid_centres


def test_state_dict_matches_authors_keys_in_order(reference_keys):
    state = build_model().state_dict()
    assert len(state) == 924
    assert list(state) == list(reference_keys)
    for key, shape in reference_keys.items():
        assert list(state[key].shape) == shape, key
    counts = {p: sum(k.startswith(p + ".") for k in state)
              for p in ("basemodel_m", "basemodel_q", "neck_m", "neck_q", "head") + LEGACY_BLOCKS}
    assert counts == {"basemodel_m": 421, "basemodel_q": 420, "neck_m": 2, "neck_q": 2,
                      "head": 51, "r_z_k": 7, "c_z_k": 7, "r_x": 7, "c_x": 7}


def test_learnable_parameter_count():
    model = build_model()
    total = sum(p.numel() for p in model.parameters())
    assert total == 39_174_900


@pytest.mark.parametrize("crop,size", [(289, 25), (161, 9), (129, 5)])
def test_geometry(crop, size):
    assert score_size(crop) == size
    assert score_offset(crop, size) == 48


def test_grid_centres_row_major():
    ctr = grid_centres(25, 48, 8)
    assert ctr.shape == (1, 625, 2) and ctr.dtype == torch.float32
    assert ctr[0, 0].tolist() == [48, 48]
    assert ctr[0, 1].tolist() == [56, 48]  # x varies fastest
    assert ctr[0, 25].tolist() == [48, 56]
    assert ctr[0, 624].tolist() == [240, 240]


def test_feature_size_follows_input(tiny_model_config):
    model = build_model(tiny_model_config).eval()
    for crop in (129, 161):
        s = score_size(crop)
        frames = torch.rand(2, 3, crop, crop) * 255
        fg = torch.zeros(2, 1, crop, crop)
        with torch.inference_mode():
            memory = model.memorize(frames, fg)
            score, boxes = model.track(frames[:1], memory)
        assert memory.shape == (1, 32, 2, s, s)
        assert score.shape == (1, s * s) and boxes.shape == (1, s * s, 4)
        assert torch.all((score >= 0) & (score <= 1))


def test_training_forward_equals_stages(tiny_model_config):
    torch.manual_seed(0)
    model = build_model(tiny_model_config).eval()
    mem = torch.rand(2, 3, 3, 129, 129) * 255
    fg = (torch.rand(2, 3, 1, 129, 129) > 0.5).float()
    query = torch.rand(2, 3, 129, 129) * 255
    with torch.inference_mode():
        out = model(mem, fg, query)
        for b in range(2):
            single = model.predict(query[b:b + 1], model.memorize(mem[b], fg[b]))
            torch.testing.assert_close(out.cls_logits[b], single.cls_logits[0], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(out.boxes[b], single.boxes[0], rtol=1e-4, atol=1e-3)
    assert out.cls_logits.shape == (2, 25, 1) and out.boxes.shape == (2, 25, 4)


def test_training_forward_backward_reaches_all_used_parameters(tiny_model_config):
    model = build_model(tiny_model_config).train()
    out = model(torch.rand(2, 3, 3, 129, 129) * 255, torch.ones(2, 3, 1, 129, 129),
                torch.rand(2, 3, 129, 129) * 255)
    (out.cls_logits.sum() + out.ctr_logits.sum() + out.boxes.sum()).backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert no_grad == []
    legacy = [n for n, p in model.named_parameters() if n.split(".")[0] in LEGACY_BLOCKS]
    assert legacy and all(not p.requires_grad for n, p in model.named_parameters() if n in legacy)


def test_memory_read_softmax_over_all_memory_positions():
    torch.manual_seed(0)
    fm = torch.randn(1, 8, 3, 4, 4)
    fq = torch.randn(1, 8, 4, 4)
    y = memory_read(fm, fq)
    assert y.shape == (1, 16, 4, 4)
    torch.testing.assert_close(y[:, 8:], fq)  # query features come second
    # reference computed position by position
    mem = fm.reshape(8, -1)  # (C, THW)
    for q in range(16):
        w = torch.softmax(mem.t() @ fq.reshape(8, -1)[:, q] / 8 ** 0.5, dim=0)
        torch.testing.assert_close(y[0, :8].reshape(8, -1)[:, q], mem @ w, rtol=1e-5, atol=1e-6)


def test_memory_read_rejects_mismatched_features():
    with pytest.raises(ValueError, match="do not match"):
        memory_read(torch.zeros(1, 8, 2, 5, 5), torch.zeros(1, 8, 4, 4))


def test_width_mult_validation():
    with pytest.raises(ValueError, match="width_mult"):
        ModelConfig(width_mult=0)


def test_truncated_normal_init_statistics():
    from stmtrack_plugin.model.backbone import truncated_normal_

    torch.manual_seed(0)
    x = truncated_normal_(torch.empty(200_000), std=0.1)
    assert x.abs().max() <= 0.2
    # std of N(0, 0.1^2) truncated at 2 sigma is 0.0880
    assert abs(x.std().item() - 0.0880) < 1e-3 and abs(x.mean().item()) < 1e-3


def test_group_norm_towers_are_an_opt_in(tiny_model_config, tmp_path):
    """``tower_norm="group"`` puts a GroupNorm before each ReLU of both head towers; the default
    keeps the authors' keys; a checkpoint records the choice and loads back into it."""
    import dataclasses

    from stmtrack_plugin.model.checkpoint import build_model_from_checkpoint, save_checkpoint

    plain = build_model(tiny_model_config)
    assert not any(isinstance(m, torch.nn.GroupNorm) for m in plain.modules())
    config = dataclasses.replace(tiny_model_config, tower_norm="group")
    model = build_model(config).eval()
    norms = [m for m in model.head.reg.conv_layers if isinstance(m, torch.nn.GroupNorm)]
    assert len(norms) == config.head_num_convs - 1 and norms[0].num_groups == 32
    keys = set(model.state_dict()) - set(plain.state_dict())
    assert "head.cls_ctr.conv_layers.0.weight" in keys and "head.reg.conv_layers.6.bias" in keys
    path = tmp_path / "gn.pkl"
    save_checkpoint(model, str(path))
    loaded = build_model_from_checkpoint(str(path), device="cpu")
    assert loaded.config.tower_norm == "group"
    fm, fq = torch.randn(1, 32, 2, 5, 5), torch.randn(1, 32, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(loaded.head(fm, fq, 0).boxes, model.head(fm, fq, 0).boxes)
    with pytest.raises(ValueError, match="tower_norm must be one of none, group"):
        ModelConfig(tower_norm="batch")
