"""Training configuration: one frozen dataclass per recipe (``parameters/train_*.py``).

Values of the paper recipes follow STMTRACK_SPEC.md §3. The authors' training bugs are
reproducible through the ``authors_*`` flags (and ``sync_bn=False`` for their per-GPU BN); every
flag defaults to the intended behaviour.

Batch and learning rate. ``base_lr`` is the authors' LR for ``reference_batch`` samples per
optimiser step (0.08 for 32 on GOT-10k, for 64 on the full data). The effective batch of a run is
``batch_per_device * world_size * accum_steps``. With ``accum_steps=0`` (default) the trainer picks
the accumulation that brings the effective batch closest to the reference one, so one CPU or one
GPU reproduces the paper's optimiser steps. With ``scale_lr=True`` (default) every LR of the
schedule is multiplied by ``effective / reference`` (linear scaling rule); the factor is exactly 1
whenever the reference batch is reached.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Tuple

from stmtrack_plugin.config import ModelConfig, load_parameter_module, shipped_parameter_files

#: dataset kinds understood by :func:`stmtrack_plugin.training.datasets.build_dataset`
DATASET_KINDS = ("got10k", "lasot", "trackingnet", "imagenet_vid", "imagenet_det", "coco", "otb",
                 "video", "still_images")


@dataclass(frozen=True)
class DatasetSpec:
    """One training source: its reader, sampling ratio, and folder below ``--data-root``."""

    kind: str  # one of DATASET_KINDS
    ratio: float = 1.0  # relative sampling weight (normalised over the recipe's datasets)
    path: str = ""  # folder relative to --data-root ("" = the data root itself)
    split: str = "train"  # reader-specific split name ("train", "val", "all", "2017", ...)

    def __post_init__(self):
        if self.kind not in DATASET_KINDS:
            raise ValueError(f"unknown dataset kind {self.kind!r}; known: {', '.join(DATASET_KINDS)}")
        if not self.ratio > 0:
            raise ValueError(f"dataset ratio must be > 0, got {self.ratio}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides paths and the device."""

    name: str = "stmtrack-googlenet-got-train"
    model: ModelConfig = field(default_factory=ModelConfig)
    datasets: Tuple[DatasetSpec, ...] = (DatasetSpec("got10k", 1.0, "GOT-10k", "train"),)
    # --- samples (SPEC §3: TrackPairSampler, TrackPairFilter, RandomCropTransformer)
    crop_size: int = 289  # side of memory and query crops
    num_memory_frames: int = 3  # T
    max_gap: int = 50  # maximum frame distance between the query frame and a memory frame
    negative_ratio: float = 0.33
    search_factor: float = 4.0  # crop side = search_factor * sqrt(w*h) before jitter
    scale_jitter: float = 1.3  # search factor multiplied by U(1/scale_jitter, scale_jitter)
    shift_jitter: float = 0.4  # centre shifted by U(-s, s) * crop_side / 2 on each axis
    max_aspect_ratio: float = 10.0  # boxes with max(w/h, h/w) >= this are rejected
    area_rate_range: Tuple[float, float] = (0.001, 0.6)  # box area / image area must lie inside
    max_sample_tries: int = 100
    #: False = every epoch draws the same samples (a fixed set, e.g. to check a model can overfit)
    resample_each_epoch: bool = True
    # --- optimisation
    pairs_per_epoch: int = 150_000
    epochs: int = 20
    reference_batch: int = 32  # total batch the authors' LR belongs to
    batch_per_device: int = 8
    accum_steps: int = 0  # 0 = choose to reach reference_batch
    scale_lr: bool = True  # linear LR scaling by effective / reference batch
    base_lr: float = 0.08
    warmup_start_lr: float = 1e-6
    warmup_epochs: int = 1  # linear per-iteration warm-up over these epochs
    end_lr: float = 1e-6  # cosine end value
    momentum: float = 0.9
    weight_decay: float = 1e-4
    backbone_lr_mult: float = 0.1  # for parameters whose name contains "basemodel_"
    unfreeze_epoch: int = 10  # Mixed_5*/Mixed_6* conv weights trainable from this epoch
    #: "authors" (every head conv N(0, 1e-4)) or "kaiming" (He-normal conv towers; see
    #: trainer.kaiming_head_towers: short trainings need it)
    head_init: str = "authors"
    cls_weight: float = 1.0
    ctr_weight: float = 1.0
    iou_weight: float = 3.0
    focal_alpha: float = 0.75
    focal_gamma: float = 2.0
    amp: bool = False
    sync_bn: bool = True  # synchronised BN under multi-GPU DDP; False = authors' per-GPU BN
    num_workers: int = 4
    seed: int = 1_000_000_007
    #: "" = random init; "imagenet" = the trunk's own ImageNet loader (the EfficientNet-Lite0
    #: wheel); else a path to the ImageNet file. ``stmtrack train --pretrained`` overrides it.
    pretrained: str = ""
    # --- cached-feature route (:mod:`stmtrack_plugin.training.feature_cache`; lite trunk only)
    feature_cache: bool = False  # train on cached activations of the frozen early trunk
    cache_pairs: int = 2000  # sampled frame pairs whose crops are cached
    cache_draws: int = 4  # augmentation draws (random crops) per cached pair
    cache_blocks: int = 5  # trunk blocks computed once (stem + blocks 0..cache_blocks-1)
    # --- the authors' bugs (SPEC §3); False = intended behaviour
    authors_sampler_bug: bool = False  # gap has no upper bound; idx1 may be drawn again
    authors_filter_bug: bool = False  # area-rate limits not enforced
    authors_centerness_bug: bool = False  # centerness loss also on negative pairs

    def __post_init__(self):
        if not self.datasets:
            raise ValueError("a recipe needs at least one dataset")
        checks = {
            "crop_size": self.crop_size >= 33, "num_memory_frames": self.num_memory_frames >= 1,
            "max_gap": self.max_gap >= 1, "pairs_per_epoch": self.pairs_per_epoch >= 1,
            "epochs": self.epochs >= 1, "reference_batch": self.reference_batch >= 1,
            "batch_per_device": self.batch_per_device >= 1, "accum_steps": self.accum_steps >= 0,
            "negative_ratio": 0.0 <= self.negative_ratio < 1.0, "base_lr": self.base_lr > 0,
            "scale_jitter": self.scale_jitter >= 1.0, "warmup_epochs": self.warmup_epochs >= 0,
            "unfreeze_epoch": self.unfreeze_epoch >= 0, "cache_pairs": self.cache_pairs >= 1,
            "cache_draws": self.cache_draws >= 1, "cache_blocks": self.cache_blocks >= 0,
        }
        checks["head_init"] = self.head_init in ("authors", "kaiming")
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError("invalid TrainConfig value(s): " +
                             ", ".join(f"{k}={getattr(self, k)!r}" for k in bad))


def resolve_accumulation(cfg: TrainConfig, world_size: int) -> Tuple[int, int, float]:
    """Return ``(accum_steps, effective_batch, lr_scale)`` for a run on ``world_size`` processes.

    >>> resolve_accumulation(TrainConfig(batch_per_device=8), world_size=1)
    (4, 32, 1.0)
    """
    per_step = cfg.batch_per_device * max(int(world_size), 1)
    accum = cfg.accum_steps or max(1, int(math.floor(cfg.reference_batch / per_step + 0.5)))
    effective = per_step * accum
    scale = effective / cfg.reference_batch if cfg.scale_lr else 1.0
    return accum, effective, scale


def load_recipe(name_or_path: str) -> TrainConfig:
    """Load ``recipe()`` from ``stmtrack_plugin.parameters.<name>`` or from a ``.py`` file.

    ``tiny`` and ``train_tiny`` both name ``parameters/train_tiny.py``.
    """
    module_name = name_or_path
    if not (name_or_path.endswith(".py") or os.sep in name_or_path or name_or_path.startswith("train_")):
        module_name = f"train_{name_or_path}"
    try:
        module = load_parameter_module(module_name, "training recipe file")
    except KeyError:
        raise KeyError(f"no training recipe named {name_or_path!r}; available: "
                       f"{', '.join(available_recipes())}") from None
    if not hasattr(module, "recipe"):
        raise AttributeError(f"recipe file {name_or_path!r} defines no recipe() function")
    cfg = module.recipe()
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"{name_or_path!r}.recipe() returned {type(cfg).__name__}, not TrainConfig")
    return cfg


def available_recipes() -> list:
    """Names (without the ``train_`` prefix) of the recipes shipped in ``parameters/``."""
    return [n[len("train_"):] for n in shipped_parameter_files("train_")]
