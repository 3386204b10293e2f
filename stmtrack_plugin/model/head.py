"""Neck, space-time memory reader and the anchor-free head of STMTrack.

Shapes use B = batch, C = neck channels (512), T = memory frames, s = score-map side (25),
K = s * s score cells in row-major order (x fastest). Boxes are xyxy in **crop pixels**.
"""
from __future__ import annotations

import math
from concurrent.futures import Executor
from typing import NamedTuple, Optional, Tuple

import torch
from torch import nn

from stmtrack_plugin.model.stages import submit_here


class Neck(nn.Module):
    """``AdjustLayer``: one 3x3 conv with bias, no BN, no activation. (N, 768, s, s) -> (N, C, s, s)."""

    def __init__(self, in_channels: int, out_channels: int, init_weights: bool = True):
        super().__init__()
        self.adjustor = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        if init_weights:
            nn.init.normal_(self.adjustor.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adjustor(x)


class ConvBN(nn.Module):
    """conv (with bias) -> BatchNorm2d(eps 1e-5), no ReLU (the authors' ``conv_bn_relu``, has_relu=False)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size=kernel_size, padding=padding, bias=True)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ConvTower(nn.Module):
    """``num_convs`` 3x3 convs with a ReLU between consecutive convs and none after the last.

    Keys: ``conv1.*`` then ``conv_layers.{1,3,5,...}.*`` (even indices are the ReLUs). With
    ``norm="group"`` (``ModelConfig.tower_norm``, an opt-in) a GroupNorm precedes each ReLU:
    ``conv_layers.{0,3,6,...}`` are the norms and ``conv_layers.{2,5,8,...}`` the convs.
    """

    def __init__(self, in_ch: int, width: int, num_convs: int = 7, norm: str = "none"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, kernel_size=3, padding=1)
        layers = []
        for _ in range(num_convs - 1):
            if norm == "group":
                layers.append(nn.GroupNorm(tower_groups(width), width))
            layers += [nn.ReLU(), nn.Conv2d(width, width, kernel_size=3, padding=1)]
        self.conv_layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_layers(self.conv1(x))


def tower_groups(width: int) -> int:
    """GroupNorm groups for a tower of ``width`` channels: 32 (FCOS) or the largest divisor below.

    >>> tower_groups(128), tower_groups(48), tower_groups(7)
    (32, 16, 1)
    """
    return math.gcd(32, width)


def memory_read(fm: torch.Tensor, fq: torch.Tensor,
                memory_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Space-time memory read: (B, C, T, s, s), (B, C, s, s) -> (B, 2C, s, s).

    Affinity ``A = fm^T fq / sqrt(C)`` of shape (B, T*s*s, s*s) (memory flattened t, y, x), softmax
    over **all memory positions** (dim 1), read-out ``fm @ softmax(A)``; the result is the read-out
    concatenated **before** the query features. Computed in float32 even under autocast.

    ``memory_mask`` (B, T) bool, True for real frames: the batched tracker pads sequences with
    fewer memory frames; padded frames get ``-inf`` affinity (zero weight), so each row equals
    the read of its real frames alone (up to float summation order). None (the default) is the
    authors' path, unchanged.
    """
    with torch.autocast(device_type=fm.device.type, enabled=False):
        fm, fq = fm.float(), fq.float()
        b, c, t, h, w = fm.shape
        if fq.shape != (b, c, h, w):
            raise ValueError(f"memory {tuple(fm.shape)} and query {tuple(fq.shape)} features "
                             "do not match (expected (B, C, T, s, s) and (B, C, s, s))")
        mem = fm.reshape(b, c, t * h * w)
        affinity = torch.bmm(mem.transpose(1, 2), fq.reshape(b, c, h * w)) / math.sqrt(c)
        if memory_mask is not None:
            padded = _padded_positions(memory_mask.to(fm.device), b, t, h * w)
            affinity = affinity.masked_fill(padded, float("-inf"))
        affinity = torch.softmax(affinity, dim=1)
        read = torch.bmm(mem, affinity).reshape(b, c, h, w)
        return torch.cat([read, fq], dim=1)


def _padded_positions(memory_mask: torch.Tensor, b: int, t: int, hw: int) -> torch.Tensor:
    """(B, T) bool "real frame" mask -> (B, T*hw, 1) bool, True at padded memory positions."""
    if memory_mask.shape != (b, t) or memory_mask.dtype != torch.bool:
        raise ValueError(f"memory_mask must be a ({b}, {t}) bool tensor, got "
                         f"{tuple(memory_mask.shape)} {memory_mask.dtype}")
    if not bool(memory_mask.any(dim=1).all()):
        raise ValueError("memory_mask leaves a batch row with no memory frame")
    return (~memory_mask)[:, :, None].expand(b, t, hw).reshape(b, t * hw, 1)


def grid_centres(size: int, offset: int, stride: int, device=None) -> torch.Tensor:
    """(1, K, 2) float32 cell centres ``(offset + stride * j, offset + stride * i)``, k = size*i + j."""
    idx = torch.arange(size, dtype=torch.float32, device=device)
    ys, xs = torch.meshgrid(idx, idx, indexing="ij")
    return (offset + torch.stack([xs, ys], dim=-1).reshape(1, -1, 2) * stride).to(torch.float32)


class HeadOutput(NamedTuple):
    """Raw head predictions for a batch (B) over K score cells."""

    cls_logits: torch.Tensor  # (B, K, 1) classification logits
    ctr_logits: torch.Tensor  # (B, K, 1) centerness logits
    boxes: torch.Tensor  # (B, K, 4) decoded boxes, xyxy in crop pixels


class STMHead(nn.Module):
    """Memory read + two 7-conv towers + 1x1 conv/BN outputs + exp box decoding."""

    def __init__(self, in_channels: int, width: int = 256, num_convs: int = 7, total_stride: int = 8,
                 init_weights: bool = True, tower_norm: str = "none"):
        super().__init__()
        self.total_stride = total_stride
        self.bi = nn.Parameter(torch.tensor(0.0))
        self.si = nn.Parameter(torch.tensor(1.0))
        self.cls_ctr = ConvTower(2 * in_channels, width, num_convs, tower_norm)
        self.reg = ConvTower(2 * in_channels, width, num_convs, tower_norm)
        self.cls_score = ConvBN(width, 1)
        self.ctr_score = ConvBN(width, 1)
        self.reg_offsets = ConvBN(width, 4)
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        """The authors' head init: convs N(0, 1e-4), cls bias -log(99) (prior 0.01)."""
        for module in (self.cls_ctr, self.reg, self.cls_score, self.ctr_score, self.reg_offsets):
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.normal_(m.weight, std=1e-4)
        nn.init.constant_(self.cls_score.conv.bias, -math.log(99.0))

    def solve(self, y: torch.Tensor, executor: Optional[Executor] = None
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, 2C, s, s) -> raw maps: cls (B,1,s,s), ctr (B,1,s,s), reg (B,4,s,s) before exp.

        ``executor``: run the box tower on its thread while this one runs the classification
        tower (the same operations, so the same result)."""
        def box_map():
            return self.reg_offsets(self.reg(y))

        pending = None if executor is None else submit_here(executor, y.device.type, box_map)
        cls_feat = self.cls_ctr(y)
        reg = box_map() if pending is None else pending.result()
        return self.cls_score(cls_feat), self.ctr_score(cls_feat), reg

    def decode(self, reg: torch.Tensor, offset: int) -> torch.Tensor:
        """(B, 4, s, s) raw regression (l, t, r, b) -> (B, K, 4) xyxy boxes in crop pixels.

        ``offset``: crop-pixel coordinate of cell 0's centre (``STMTrack.score_geometry``).
        Always float32 (boxes in bfloat16 would be quantised to ~1 px)."""
        size = reg.shape[-1]
        reg = reg.float()  # a no-op in float32; under bfloat16 compute, decode in float32
        offsets = torch.exp(self.si * reg + self.bi) * self.total_stride
        offsets = offsets.permute(0, 2, 3, 1).reshape(reg.shape[0], -1, 4)
        ctr = grid_centres(size, offset, self.total_stride, reg.device).to(offsets.dtype)
        return torch.cat([ctr - offsets[..., :2], ctr + offsets[..., 2:]], dim=2)

    def forward(self, fm: torch.Tensor, fq: torch.Tensor, offset: int,
                memory_mask: Optional[torch.Tensor] = None,
                executor: Optional[Executor] = None) -> HeadOutput:
        """fm (B, C, T, s, s), fq (B, C, s, s), cell-0 centre ``offset`` -> :class:`HeadOutput`.
        ``memory_mask`` (B, T) bool: see :func:`memory_read`; ``executor``: see :meth:`solve`."""
        cls, ctr, reg = self.solve(memory_read(fm, fq, memory_mask), executor)
        b = cls.shape[0]
        return HeadOutput(cls.permute(0, 2, 3, 1).reshape(b, -1, 1),
                          ctr.permute(0, 2, 3, 1).reshape(b, -1, 1),
                          self.decode(reg, offset))


class LegacyBlock(nn.Module):
    """An unused 3x3 conv + BN block left over from SiamFC++ (``r_z_k``, ``c_z_k``, ``r_x``, ``c_x``).

    Never called; declared so the authors' checkpoints load with every key accounted for.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, bias=True)
        self.bn = nn.BatchNorm2d(channels)
        for p in self.parameters():
            p.requires_grad_(False)
