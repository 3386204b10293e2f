"""LR schedule, parameter groups, freeze plan, batch/accumulation arithmetic, recipes."""
import math

import pytest

from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.training.config import (TrainConfig, available_recipes, load_recipe,
                                             resolve_accumulation)
from stmtrack_plugin.training.schedule import (apply_freeze, build_optimizer, is_trainable,
                                               learning_rate, parameter_groups)


def test_warmup_then_cosine():
    cfg = TrainConfig(epochs=20, base_lr=0.08, warmup_start_lr=1e-6, end_lr=1e-6)
    n = 4687
    assert learning_rate(cfg, 0, 0, n) == pytest.approx(1e-6)
    assert learning_rate(cfg, 0, n // 2, n) == pytest.approx(1e-6 + (0.08 - 1e-6) * (n // 2) / n)
    assert learning_rate(cfg, 1, 0, n) == pytest.approx(0.08)
    middle = learning_rate(cfg, 10, n // 2, n)  # halfway through the 19 cosine epochs
    assert middle == pytest.approx((0.08 + 1e-6) / 2, rel=1e-3)
    assert learning_rate(cfg, 19, n - 1, n) == pytest.approx(1e-6, abs=1e-8)
    assert learning_rate(cfg, 5, 7, n, scale=0.25) == pytest.approx(0.25 * learning_rate(cfg, 5, 7, n))
    lrs = [learning_rate(cfg, e, i, n) for e in range(1, 20) for i in (0, n // 2)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_freeze_plan_names():
    late = "basemodel_m.Mixed_6e.branch7x7dbl_5.conv.weight"
    early = "basemodel_q.Conv2d_1a_3x3.conv.weight"
    assert not is_trainable(late, 9, 10) and is_trainable(late, 10, 10)
    assert not is_trainable(early, 0, 10) and not is_trainable(early, 19, 10)
    assert is_trainable("basemodel_q.Conv2d_1a_3x3.bn.weight", 0, 10)  # BN never frozen
    assert is_trainable("basemodel_m.proj_fg_bg_label_map.weight", 0, 10)
    assert is_trainable("head.cls_score.conv.weight", 0, 10)  # not a backbone conv
    assert not is_trainable("r_z_k.conv.weight", 19, 10)


@pytest.fixture(scope="module")
def tiny_model():
    from stmtrack_plugin.model import build_model

    return build_model(ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32))


def test_groups_and_freeze_on_the_model(tiny_model):
    groups = parameter_groups(tiny_model, 0.1)
    names = {id(p): n for n, p in tiny_model.named_parameters()}
    backbone = [names[id(p)] for p in groups[0]["params"]]
    other = [names[id(p)] for p in groups[1]["params"]]
    assert groups[0]["lr_mult"] == 0.1 and groups[1]["lr_mult"] == 1.0
    assert "basemodel_m.proj_fg_bg_label_map.weight" in backbone
    assert all(n.startswith("basemodel_") for n in backbone)
    assert not any(n.startswith(("r_z_k", "c_z_k", "r_x", "c_x", "basemodel_")) for n in other)
    assert any(n.startswith("head.") for n in other) and any(n.startswith("neck_q") for n in other)
    before = apply_freeze(tiny_model, 0, 10)
    after = apply_freeze(tiny_model, 10, 10)
    assert after["trainable"] > before["trainable"]
    params = dict(tiny_model.named_parameters())
    assert params["basemodel_q.Mixed_5b.branch1x1.conv.weight"].requires_grad
    assert not params["basemodel_q.Conv2d_4a_3x3.conv.weight"].requires_grad
    optimizer = build_optimizer(tiny_model, TrainConfig())
    assert optimizer.defaults["momentum"] == 0.9 and optimizer.defaults["weight_decay"] == 1e-4


@pytest.mark.parametrize("batch, world, accum, expected", [
    (8, 1, 0, (4, 32, 1.0)),  # one device reaches the reference batch by accumulation
    (8, 4, 0, (1, 32, 1.0)),  # the authors' 4 GPUs
    (8, 3, 0, (1, 24, 0.75)),  # closest reachable batch, LR scaled linearly
    (2, 1, 1, (1, 2, 2 / 32)),  # explicit accumulation
])
def test_resolve_accumulation(batch, world, accum, expected):
    cfg = TrainConfig(batch_per_device=batch, accum_steps=accum, reference_batch=32)
    assert resolve_accumulation(cfg, world) == expected
    unscaled = TrainConfig(batch_per_device=batch, accum_steps=accum, scale_lr=False)
    assert resolve_accumulation(unscaled, world)[2] == 1.0


def test_recipes():
    from stmtrack_plugin.config import available_parameters

    assert {"got10k", "fulldata", "tiny"} <= set(available_recipes())
    assert not any(n.startswith("train_") for n in available_parameters())
    got = load_recipe("got10k")
    assert (got.pairs_per_epoch, got.reference_batch, got.base_lr, got.epochs) == (150_000, 32, 0.08, 20)
    assert got.pairs_per_epoch // got.reference_batch == 4687
    full = load_recipe("train_fulldata")
    ratios = {d.kind: d.ratio for d in full.datasets}
    assert ratios == {"trackingnet": 0.65, "lasot": 0.3, "got10k": 0.2, "imagenet_vid": 0.2,
                      "imagenet_det": 0.08, "coco": 0.07}
    assert (full.reference_batch, full.warmup_start_lr, full.pairs_per_epoch) == (64, 0.01, 300_000)
    assert full.pairs_per_epoch // full.reference_batch == 4687
    for cfg in (got, full):
        assert (cfg.num_memory_frames, cfg.max_gap, cfg.negative_ratio) == (3, 50, 0.33)
        assert (cfg.focal_alpha, cfg.focal_gamma, cfg.iou_weight) == (0.75, 2.0, 3.0)
        assert cfg.unfreeze_epoch == 10 and cfg.backbone_lr_mult == 0.1
        assert not (cfg.authors_sampler_bug or cfg.authors_filter_bug or cfg.authors_centerness_bug)
    with pytest.raises(KeyError, match="no training recipe named 'nope'"):
        load_recipe("nope")
    with pytest.raises(ValueError, match="batch_per_device"):
        TrainConfig(batch_per_device=0)
    assert math.isclose(sum(ratios.values()), 1.5)


def test_torchrun_environment_and_device(monkeypatch):
    import torch

    from stmtrack_plugin.training.distributed import dist_info_from_env
    from stmtrack_plugin.utils.devices import resolve_device

    info = dist_info_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "8"})
    assert (info.rank, info.local_rank, info.world_size) == (3, 1, 8)
    assert info.enabled and not info.is_main
    single = dist_info_from_env({})
    assert not single.enabled and single.is_main
    assert resolve_device("cpu", info.local_rank) == torch.device("cpu")
    expected = "cuda:1" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", info.local_rank) == torch.device(expected)
    # a bare cuda gets the local rank (CUDA faked present: the mapping, not the machine)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda", info.local_rank) == torch.device("cuda:1")
    assert resolve_device("cuda:0", info.local_rank) == torch.device("cuda:0")
    assert resolve_device("cuda") == torch.device("cuda")
