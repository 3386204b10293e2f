"""Where the cached-feature route splits the lite model: the frozen *prefix* (stem, trunk blocks
before ``cache_blocks`` and, when the label map enters there, the memory trunk's label conv) and
the trainable *suffix* (the remaining blocks, necks, memory read and head); see
:mod:`stmtrack_plugin.training.feature_cache` for the cache built on it.
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional

import torch

from stmtrack_plugin.model.efficientnet_lite import (LiteTrunk, bgr255_to_lite_input,
                                                     pool_label_map)
from stmtrack_plugin.model.head import HeadOutput
from stmtrack_plugin.training.config import TrainConfig

_PREFIX = re.compile(r"^basemodel_[mq]\.(?:stem\.|proj_fg_bg_label_map\.|blocks\.(\d+)\.)")


def check_cacheable(model: torch.nn.Module, cfg: TrainConfig) -> None:
    """Raise ``ValueError`` unless ``model`` can be split after ``cfg.cache_blocks`` blocks."""
    trunk = model.basemodel_q
    if not isinstance(trunk, LiteTrunk):
        raise ValueError(f"feature_cache needs the efficientnet_lite0 trunk, not "
                         f"{model.config.backbone!r}")
    if cfg.cache_blocks > len(trunk.blocks):
        raise ValueError(f"cache_blocks={cfg.cache_blocks} but the trunk has "
                         f"{len(trunk.blocks)} blocks")


def label_in_suffix(label_block: int, cache_blocks: int) -> bool:
    """Whether the memory trunk's label map enters after the split (``ModelConfig.label_block``
    >= ``cache_blocks`` > 0 or > 0 = ``cache_blocks``): then its projection trains, and the
    cache stores the memory crops' cell-averaged label maps instead of adding them."""
    return label_block > 0 and label_block >= cache_blocks


def is_prefix(name: str, cache_blocks: int, label_block: int = 0) -> bool:
    """Whether parameter / buffer ``name`` belongs to the cached (frozen) part."""
    match = _PREFIX.match(name)
    if not match:
        return False
    if name.startswith("basemodel_m.proj_fg_bg_label_map."):
        return not label_in_suffix(label_block, cache_blocks)
    return match.group(1) is None or int(match.group(1)) < cache_blocks


def freeze_prefix(model: torch.nn.Module, cache_blocks: int) -> int:
    """Stop gradients to the prefix and put its modules in eval mode; returns the tensor count."""
    frozen = 0
    for name, param in model.named_parameters():
        if is_prefix(name, cache_blocks, model.config.label_block):
            param.requires_grad_(False)
            frozen += 1
    for trunk in (model.basemodel_m, model.basemodel_q):
        trunk.stem.eval()
        for block in trunk.blocks[:cache_blocks]:
            block.eval()
    model.basemodel_m.proj_fg_bg_label_map.eval()
    return frozen


def prefix_sha256(model: torch.nn.Module, cache_blocks: int) -> str:
    """sha256 over the names and values of the prefix's parameters and buffers."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        if is_prefix(name, cache_blocks, model.config.label_block):
            digest.update(name.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def encode_prefix(model: torch.nn.Module, cache_blocks: int, memory_frames: torch.Tensor,
                  memory_fg_bg: torch.Tensor, query: torch.Tensor):
    """memory_frames (B, T, 3, S, S), memory_fg_bg (B, T, 1, S, S), query (B, 3, S, S), BGR
    0..255 -> prefix activations ``(memory (B, T, C, h, w), query (B, C, h, w), label)``.

    ``label`` is None when the label map enters inside the prefix (it is then in ``memory``),
    else the memory crops' cell-averaged label maps (B, T, 1, h', w') at the stride where the
    label enters (:func:`~stmtrack_plugin.model.efficientnet_lite.pool_label_map`)."""
    b, t, _, size, _ = memory_frames.shape
    mem_trunk, query_trunk = model.basemodel_m, model.basemodel_q
    fg_bg = memory_fg_bg.reshape(b * t, 1, size, size)
    x = mem_trunk.stem(bgr255_to_lite_input(memory_frames.reshape(b * t, 3, size, size)))
    label = None
    if label_in_suffix(mem_trunk.label_block, cache_blocks):
        x = mem_trunk.blocks[:cache_blocks](x)
        stride = mem_trunk.label_stride
        side = -(-size // stride)
        label = pool_label_map(fg_bg, stride, (side, side))
        label = label.reshape(b, t, *label.shape[1:])
    elif mem_trunk.label_block == 0:
        x = mem_trunk.blocks[:cache_blocks](mem_trunk.add_label(x, fg_bg))
    else:
        x = mem_trunk.add_label(mem_trunk.blocks[:mem_trunk.label_block](x), fg_bg)
        x = mem_trunk.blocks[mem_trunk.label_block:cache_blocks](x)
    q = query_trunk.blocks[:cache_blocks](query_trunk.stem(bgr255_to_lite_input(query)))
    return x.reshape(b, t, *x.shape[1:]), q, label


def _suffix(trunk: LiteTrunk, x: torch.Tensor, cache_blocks: int,
            label: Optional[torch.Tensor] = None) -> torch.Tensor:
    if label is None:
        x = trunk.blocks[cache_blocks:](x)
    else:  # memory trunk, label entering at or after the split
        x = trunk.blocks[cache_blocks:trunk.label_block](x)
        x = x + trunk.proj_fg_bg_label_map(label[..., :x.size(2), :x.size(3)])
        x = trunk.blocks[trunk.label_block:](x)
    return trunk._crop(x)


def forward_from_cache(model: torch.nn.Module, cache_blocks: int, memory: torch.Tensor,
                       query: torch.Tensor, crop_size: int,
                       memory_label: Optional[torch.Tensor] = None) -> HeadOutput:
    """The training forward from prefix activations: memory (B, T, C, h, w), query (B, C, h, w)
    and, when the label map enters after the split, memory_label (B, T, 1, h', w') ->
    :class:`HeadOutput`, equal to ``model(frames, fg_bg, query)`` on the crops they came from."""
    b, t = memory.shape[:2]
    if label_in_suffix(model.basemodel_m.label_block, cache_blocks) != (memory_label is not None):
        raise ValueError("memory_label must be given exactly when the label map enters after "
                         "the cached prefix")
    label = None if memory_label is None else memory_label.reshape(b * t, *memory_label.shape[2:])
    fm = model.neck_m(_suffix(model.basemodel_m, memory.reshape(b * t, *memory.shape[2:]),
                              cache_blocks, label))
    fm = fm.reshape(b, t, *fm.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()  # (B, C, T, s, s)
    fq = model.neck_q(_suffix(model.basemodel_q, query, cache_blocks))
    return model.head(fm, fq, model.score_geometry(crop_size)[1])
