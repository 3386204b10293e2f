"""Building blocks of the truncated Inception-v3 trunk (torchvision layer and key names).

Every block is conv (no bias) -> BatchNorm2d(eps) -> ReLU, as in torchvision's ``BasicConv2d``.
Channel counts go through ``ch(n)``, a width multiplier that is the identity for the authors'
model (``width_mult = 1``) and shrinks every layer for tiny test models.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

ChannelFn = Callable[[int], int]


def channel_fn(width_mult: float) -> ChannelFn:
    """``n -> max(1, round(n * width_mult))``; exactly ``n`` when ``width_mult == 1``."""
    if width_mult == 1.0:
        return lambda n: n
    return lambda n: max(1, int(round(n * width_mult)))


class BasicConv2d(nn.Module):
    """conv (bias=False) -> BN(eps) -> ReLU. Keys: ``conv.weight``, ``bn.*``."""

    def __init__(self, in_ch: int, out_ch: int, eps: float = 1e-3, **conv_kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_ch, eps=eps)
        self.out_channels = out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    """35x35-style block (Mixed_5b/5c/5d): 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, in_ch: int, pool_features: int, ch: ChannelFn, eps: float):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_ch, ch(64), eps, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_ch, ch(48), eps, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(ch(48), ch(64), eps, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, ch(64), eps, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(ch(64), ch(96), eps, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(ch(96), ch(96), eps, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_ch, ch(pool_features), eps, kernel_size=1)
        self.out_channels = ch(64) + ch(64) + ch(96) + ch(pool_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction (Mixed_6a): stride-2 3x3, stride-2 double 3x3 and max-pool branches."""

    def __init__(self, in_ch: int, ch: ChannelFn, eps: float):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_ch, ch(384), eps, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_ch, ch(64), eps, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(ch(64), ch(96), eps, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(ch(96), ch(96), eps, kernel_size=3, stride=2)
        self.out_channels = ch(384) + ch(96) + in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    """17x17-style block (Mixed_6b..6e) with factorised 1x7 / 7x1 convolutions."""

    def __init__(self, in_ch: int, channels_7x7: int, ch: ChannelFn, eps: float):
        super().__init__()
        c7, c192 = ch(channels_7x7), ch(192)
        h, v = dict(kernel_size=(1, 7), padding=(0, 3)), dict(kernel_size=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(in_ch, c192, eps, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_ch, c7, eps, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, eps, **h)
        self.branch7x7_3 = BasicConv2d(c7, c192, eps, **v)
        self.branch7x7dbl_1 = BasicConv2d(in_ch, c7, eps, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, eps, **v)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, eps, **h)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, eps, **v)
        self.branch7x7dbl_5 = BasicConv2d(c7, c192, eps, **h)
        self.branch_pool = BasicConv2d(in_ch, c192, eps, kernel_size=1)
        self.out_channels = 4 * c192

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)
