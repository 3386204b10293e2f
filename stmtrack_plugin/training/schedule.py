"""Learning-rate schedule, parameter groups and the epoch-level freeze plan (SPEC §3).

* LR: linear per-iteration warm-up from ``warmup_start_lr`` to ``base_lr`` over the first
  ``warmup_epochs`` epochs, then cosine from ``base_lr`` to ``end_lr`` over the remaining epochs
  (per iteration). The whole schedule is multiplied by the linear-scaling factor.
* Groups: parameters whose name contains ``basemodel_`` (backbones, including the label-map conv)
  get ``backbone_lr_mult`` (0.1); everything else 1.
* Freezing follows the trunk's :class:`~stmtrack_plugin.model.trunks.FreezePlan`. For the
  authors' trunk: backbone conv weights (``basemodel_.*\\.conv\\.``) are frozen; from
  ``unfreeze_epoch`` on, those of Mixed_5* and Mixed_6* train. Conv2d_1a..4a never train; BN
  parameters and the label-map conv always train. The unused legacy blocks never train.
  A plan pattern that matches no parameter of the model is an error (a renamed layer would
  otherwise silently train, or never unfreeze).
"""
from __future__ import annotations

import math
import re
from typing import Dict, List, Optional

import torch

from stmtrack_plugin.model.stmtrack import LEGACY_PREFIXES
from stmtrack_plugin.model.trunks import GOOGLENET, FreezePlan, trunk_spec
from stmtrack_plugin.training.config import TrainConfig


def learning_rate(cfg: TrainConfig, epoch: int, iteration: int, iters_per_epoch: int,
                  scale: float = 1.0) -> float:
    """LR at ``iteration`` (0-based, within ``epoch``) before the per-group multiplier."""
    n = max(int(iters_per_epoch), 1)
    step = epoch * n + iteration
    warm = cfg.warmup_epochs * n
    if step < warm:
        lr = cfg.warmup_start_lr + (cfg.base_lr - cfg.warmup_start_lr) * step / warm
    else:
        total = max((cfg.epochs - cfg.warmup_epochs) * n, 1)
        progress = min((step - warm) / total, 1.0)
        lr = cfg.end_lr + (cfg.base_lr - cfg.end_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr * scale


def is_trainable(name: str, epoch: int, unfreeze_epoch: int,
                 plan: FreezePlan = GOOGLENET.freeze) -> bool:
    """Whether parameter ``name`` receives gradients during ``epoch`` under ``plan``."""
    if name.startswith(LEGACY_PREFIXES):
        return False
    if re.search(plan.frozen, name):
        return epoch >= unfreeze_epoch and bool(re.match(plan.late, name))
    return True


def freeze_plan_of(model: torch.nn.Module) -> FreezePlan:
    """The freeze plan of the model's trunk (``model.config.backbone``; default the authors')."""
    config = getattr(getattr(model, "module", model), "config", None)
    return trunk_spec(getattr(config, "backbone", GOOGLENET.name)).freeze


def check_freeze_plan(names, plan: FreezePlan) -> None:
    """Raise ``ValueError`` if a pattern of ``plan`` matches none of the parameter ``names``."""
    names = list(names)
    unmatched = [f"{field}={pattern!r}" for field, pattern, hit in (
        ("frozen", plan.frozen, lambda n: re.search(plan.frozen, n)),
        ("late", plan.late, lambda n: re.match(plan.late, n) and re.search(plan.frozen, n)))
        if not any(hit(n) for n in names)]
    if unmatched:
        raise ValueError("freeze plan pattern(s) match no parameter of the model: "
                         + ", ".join(unmatched) + f" ({len(names)} parameters checked)")


def apply_freeze(model: torch.nn.Module, epoch: int, unfreeze_epoch: int,
                 plan: Optional[FreezePlan] = None) -> Dict[str, int]:
    """Set ``requires_grad`` for ``epoch``; returns counts of trainable / frozen tensors.

    ``plan`` defaults to the model's trunk plan; one whose patterns match nothing raises.
    """
    plan = freeze_plan_of(model) if plan is None else plan
    params = list(model.named_parameters())
    check_freeze_plan((n for n, _ in params), plan)
    counts = {"trainable": 0, "frozen": 0}
    for name, param in params:
        param.requires_grad_(is_trainable(name, epoch, unfreeze_epoch, plan))
        counts["trainable" if param.requires_grad else "frozen"] += 1
    return counts


def parameter_groups(model: torch.nn.Module, backbone_lr_mult: float) -> List[dict]:
    """SGD groups ``[{params, lr_mult, name}]``; legacy blocks are left out (they never train)."""
    backbone, rest = [], []
    for name, param in model.named_parameters():
        if name.startswith(LEGACY_PREFIXES):
            continue
        (backbone if "basemodel_" in name else rest).append(param)
    return [{"params": backbone, "lr_mult": backbone_lr_mult, "name": "backbone"},
            {"params": rest, "lr_mult": 1.0, "name": "other"}]


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.SGD:
    """SGD (momentum, weight decay on all trained parameters) over :func:`parameter_groups`."""
    return torch.optim.SGD(parameter_groups(model, cfg.backbone_lr_mult), lr=cfg.base_lr,
                           momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
