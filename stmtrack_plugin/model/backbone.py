"""The two truncated Inception-v3 trunks: phi^m (memory, with the fg/bg label map) and phi^q.

Input contract (both trunks): a float tensor (N, 3, S, S) holding a **BGR** image with values in
0..255, exactly the crops the tracker cuts from cv2 frames. Inside, the channels are reversed to
RGB and mapped to [-1, 1] as ``(x - 127.5) / 127.5`` (the Google Inception-v3 convention). Output:
(N, 4*ch(192), s, s) with ``s = score_size(S)`` (768 x 25 x 25 for S = 289), i.e. the Mixed_6e map
at stride 8 with ``crop_pad`` cells removed on each side.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stmtrack_plugin.model.inception import BasicConv2d, InceptionA, InceptionB, InceptionC, channel_fn

_HALF = 255.0 / 2.0


def bgr255_to_rgb_unit(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) BGR 0..255 -> RGB in [-1, 1], computed as the authors do (subtract, divide)."""
    return torch.cat([(x[:, 2:3] - _HALF) / _HALF, (x[:, 1:2] - _HALF) / _HALF,
                      (x[:, 0:1] - _HALF) / _HALF], dim=1)


class InceptionTrunk(nn.Module):
    """Inception-v3 up to Mixed_6e, without the max-pool after Conv2d_4a ("pruned").

    Layer names equal torchvision's, so ImageNet weights map key for key.
    """

    def __init__(self, width_mult: float = 1.0, crop_pad: int = 4, eps: float = 1e-3):
        super().__init__()
        ch = channel_fn(width_mult)
        self.crop_pad = crop_pad
        self.Conv2d_1a_3x3 = BasicConv2d(3, ch(32), eps, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(ch(32), ch(32), eps, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(ch(32), ch(64), eps, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(ch(64), ch(80), eps, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(ch(80), ch(192), eps, kernel_size=3)
        self.Mixed_5b = InceptionA(ch(192), 32, ch, eps)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, 64, ch, eps)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, 64, ch, eps)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, ch, eps)
        self.Mixed_6b = InceptionC(self.Mixed_6a.out_channels, 128, ch, eps)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, 160, ch, eps)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, 160, ch, eps)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, 192, ch, eps)
        self.out_channels = self.Mixed_6e.out_channels
        self.stem_channels = ch(32)

    def _rest(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after Conv2d_1a_3x3, including the border crop."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e):
            x = block(x)
        p = self.crop_pad
        if p > 0:
            x = x[:, :, p:x.size(2) - p, p:x.size(3) - p]
        return x


class QueryBackbone(InceptionTrunk):
    """phi^q: (N, 3, S, S) BGR 0..255 -> (N, 768, s, s) query features."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self._rest(self.Conv2d_1a_3x3(bgr255_to_rgb_unit(image)))


class MemoryBackbone(InceptionTrunk):
    """phi^m: image plus fg/bg label map -> (N, 768, s, s) memory features.

    The label map (N, 1, S, S), 1 inside the target box and 0 elsewhere, goes through
    ``proj_fg_bg_label_map`` (3x3 stride-2 conv, no bias) and is **added after** the first
    block's BN and ReLU: ``x = relu(bn(conv1a(img))) + g(label)``. No nonlinearity follows the sum.
    """

    def __init__(self, width_mult: float = 1.0, crop_pad: int = 4, eps: float = 1e-3):
        super().__init__(width_mult, crop_pad, eps)
        # registered last, so the key order matches the authors' state_dict
        self.proj_fg_bg_label_map = nn.Conv2d(1, self.stem_channels, kernel_size=3, stride=2,
                                              bias=False)

    def forward(self, image: torch.Tensor, fg_bg: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_1a_3x3(bgr255_to_rgb_unit(image)) + self.proj_fg_bg_label_map(fg_bg)
        return self._rest(x)


@torch.no_grad()
def truncated_normal_(tensor: torch.Tensor, std: float, bound: float = 2.0) -> torch.Tensor:
    """Fill with N(0, std^2) truncated to +-bound*std, by inverse-CDF sampling (one pass; torch's
    rejection-sampling ``trunc_normal_`` takes seconds for the 18 M trunk weights)."""
    lo = 0.5 * (1.0 + torch.erf(torch.tensor(-bound / 2 ** 0.5, device="cpu"))).item()
    tensor.uniform_(2 * lo - 1, 1 - 2 * lo)  # (2 Phi(-b) - 1, 2 Phi(b) - 1)
    tensor.erfinv_().mul_(std * 2 ** 0.5)
    return tensor.clamp_(-bound * std, bound * std)


def init_trunk_weights(trunk: nn.Module) -> None:
    """Random init used before ImageNet weights are loaded (truncated normal convs, BN = 1/0).

    The label-map conv gets N(0, 0.01) as in the authors' code.
    """
    for name, m in trunk.named_modules():
        if isinstance(m, nn.Conv2d):
            if name == "proj_fg_bg_label_map":
                nn.init.normal_(m.weight, std=0.01)
            else:
                truncated_normal_(m.weight, std=0.1)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
