"""Learning-rate schedule, parameter groups and the epoch-level freeze plan (SPEC §3).

* LR: linear per-iteration warm-up from ``warmup_start_lr`` to ``base_lr`` over the first
  ``warmup_epochs`` epochs, then cosine from ``base_lr`` to ``end_lr`` over the remaining epochs
  (per iteration). The whole schedule is multiplied by the linear-scaling factor.
* Groups: parameters whose name contains ``basemodel_`` (backbones, including the label-map conv)
  get ``backbone_lr_mult`` (0.1); everything else 1.
* Freezing: backbone conv weights (``basemodel_.*\\.conv\\.``) are frozen; from
  ``unfreeze_epoch`` on, those of Mixed_5* and Mixed_6* train. Conv2d_1a..4a never train; BN
  parameters and the label-map conv always train. The unused legacy blocks never train.
"""
from __future__ import annotations

import math
import re
from typing import Dict, List

import torch

from stmtrack_plugin.training.config import TrainConfig

LEGACY_PREFIXES = ("r_z_k.", "c_z_k.", "r_x.", "c_x.")
_BACKBONE_CONV = re.compile(r"basemodel_.*\.conv\.")
_LATE_LAYERS = re.compile(r"basemodel_[mq]\.Mixed_[56]")


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


def is_trainable(name: str, epoch: int, unfreeze_epoch: int) -> bool:
    """Whether parameter ``name`` receives gradients during ``epoch``."""
    if name.startswith(LEGACY_PREFIXES):
        return False
    if _BACKBONE_CONV.search(name):
        return epoch >= unfreeze_epoch and bool(_LATE_LAYERS.match(name))
    return True


def apply_freeze(model: torch.nn.Module, epoch: int, unfreeze_epoch: int) -> Dict[str, int]:
    """Set ``requires_grad`` for ``epoch``; returns counts of trainable / frozen tensors."""
    counts = {"trainable": 0, "frozen": 0}
    for name, param in model.named_parameters():
        param.requires_grad_(is_trainable(name, epoch, unfreeze_epoch))
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
