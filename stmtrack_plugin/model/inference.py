"""Inference preparation of an :class:`~stmtrack_plugin.model.STMTrack`: fold, relayout, cast.

:func:`prepare_for_inference` rewrites a loaded model, in place, for the tracker's forward passes:

* **BatchNorm folded into the conv before it** (every trunk block, both trunks, and the head's
  three output ``ConvBN`` s): ``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps)
  + beta``; the BN becomes ``nn.Identity``. One pass over each activation map less per block.
* **1x1 convolutions through oneDNN**: PyTorch sends a batch-1, stride-1 1x1 conv to its
  im2col + GEMM path when it runs on one thread (and to oneDNN on two or more threads, which is
  how the authors' parity fixtures were made); oneDNN is ~2.5x faster on it (:class:`OneDnnConv1x1`).
* **prepacked oneDNN convolutions with the activation fused** (CPU): every conv becomes a
  :class:`PackedConv` that reorders its weight into oneDNN's blocked layout once (per input
  shape) instead of at every call, and applies the block's ReLU / ReLU6 in the same call. The
  numbers are those of the unfused oneDNN conv followed by the activation.
* **channels-last** (NHWC) weights, so oneDNN convolutions, pooling and the trunk's concatenations
  run without reordering between NCHW and oneDNN's blocked layout at every layer. Outputs keep
  their NCHW shapes; only strides differ, and every consumer reshapes or copies them.
* optionally a **compute dtype** (``torch.bfloat16``): conv weights and biases are cast once, so
  the tracker's ``torch.autocast`` finds them already in that dtype. The memory read and the box
  decoding stay float32 (:func:`~stmtrack_plugin.model.head.memory_read`, ``STMHead.decode``).

In float32 the result is the same function up to float rounding (~1e-6 relative on features;
the parity tests run the prepared model against the authors' fixtures with their tolerances).

A prepared model is for inference only: its BN layers are gone, so its ``state_dict`` no longer
has the authors' keys (save or train the model *before* preparing it). ``model.inference_dtype``
records the preparation (absent: not prepared).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

#: compute dtypes a prepared model may hold (``TrackerParams.compute_dtype`` names these)
COMPUTE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class OneDnnConv1x1(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` that always takes oneDNN's convolution on the CPU in float32.

    Same parameters and keys as the conv it replaces; other devices and dtypes (and autocast)
    take ``nn.Conv2d.forward``. (N, Cin, H, W) -> (N, Cout, H', W'), in the input's memory format.
    """

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "OneDnnConv1x1":
        new = cls(conv.in_channels, conv.out_channels, 1, stride=conv.stride, padding=conv.padding,
                  dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                  device="meta")
        new.weight = conv.weight
        new.bias = conv.bias
        new.train(conv.training)
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type == "cpu" and x.dtype == torch.float32 and self.weight.dtype == x.dtype
                and not torch.is_autocast_enabled("cpu") and torch.backends.mkldnn.is_available()):
            return torch.ops.aten.mkldnn_convolution(x, self.weight, self.bias, self.padding,
                                                     self.stride, self.dilation, self.groups)
        return super().forward(x)


class PackedConv(nn.Module):
    """conv (BN already folded) + activation in one oneDNN call, weight prepacked (CPU only).

    (N, Cin, H, W) -> (N, Cout, H', W'). The input is cast to the weight's dtype (so a bfloat16
    model needs no autocast for its convs). ``act``: "none", "relu" or "hardtanh" (with
    ``scalars`` [0, 6] for ReLU6). The packed weight depends on the input shape; one is kept per
    shape seen (a tracker sees one or two).
    """

    def __init__(self, conv: nn.Conv2d, act: str = "none", scalars=()):
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("PackedConv needs numeric zero padding")
        self.weight, self.bias = conv.weight, conv.bias
        self.conv_args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.act, self.scalars = act, list(scalars)
        self._packed = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.weight.dtype)
        packed = self._packed.get(tuple(x.shape))
        if packed is None:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, *self.conv_args, list(x.shape))
            self._packed[tuple(x.shape)] = packed
        return torch.ops.mkldnn._convolution_pointwise(
            x, packed, self.bias, *self.conv_args, self.act, self.scalars, "")


def pack_convolutions(model: nn.Module) -> int:
    """Replace BN-folded conv blocks and the remaining convs by :class:`PackedConv` (CPU only).

    Trunk blocks (``conv`` + ``bn`` = Identity + ReLU, or the lite trunk's ReLU6 / no act)
    become one fused call; every other conv (neck, head towers and outputs, the label-map
    projection) a packed conv without activation. Returns how many modules were replaced.
    """
    from stmtrack_plugin.model import efficientnet_lite, inception

    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = None
            if isinstance(child, inception.BasicConv2d) and isinstance(child.bn, nn.Identity):
                new = PackedConv(child.conv, "relu")
            elif isinstance(child, efficientnet_lite.ConvBN) and isinstance(child.bn, nn.Identity):
                new = PackedConv(child.conv, "hardtanh", (0.0, 6.0)) if child.act else PackedConv(child.conv)
            elif isinstance(child, nn.Conv2d):
                new = PackedConv(child)
            if new is not None:
                setattr(parent, name, new)
                replaced += 1
    return replaced


def pointwise_convs_to_onednn(model: nn.Module) -> int:
    """Replace every 1x1 ``nn.Conv2d`` (zero padding) by :class:`OneDnnConv1x1`; return how many."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if (type(child) is nn.Conv2d and child.kernel_size == (1, 1)
                    and child.padding == (0, 0) and child.padding_mode == "zeros"):
                setattr(parent, name, OneDnnConv1x1.from_conv(child))
                replaced += 1
    return replaced


def fold_batchnorms(model: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a conv into it; return how many were folded.

    A fold applies to a module with attributes ``conv`` (``nn.Conv2d``) and ``bn``
    (``nn.BatchNorm2d``) whose forward is ``bn(conv(x))`` followed by anything: the trunks'
    ``BasicConv2d`` / lite ``ConvBN`` and the head's ``ConvBN``. Unused legacy blocks are skipped.
    """
    from stmtrack_plugin.model.stmtrack import LEGACY_BLOCKS

    folded = 0
    for name, module in model.named_modules():
        if name.split(".")[0] in LEGACY_BLOCKS:
            continue
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            if bn.training or conv.training:
                raise RuntimeError("fold_batchnorms needs a model in eval mode")
            module.conv = fuse_conv_bn_eval(conv, bn)
            module.bn = nn.Identity()
            folded += 1
    return folded


def prepare_for_inference(model: nn.Module, dtype: Optional[torch.dtype] = None,
                          fold_bn: bool = True, channels_last: bool = True,
                          onednn_pointwise: bool = True, pack: Optional[bool] = None) -> nn.Module:
    """Prepare ``model`` (an ``STMTrack``, any trunk) in place for tracking; returns it, in eval mode.

    Args:
        dtype: ``None`` / ``torch.float32`` (exact path) or ``torch.bfloat16`` (weights of every
            conv cast once; run the model under ``torch.autocast`` with that dtype, as
            :class:`~stmtrack_plugin.tracking.STMTracker` does for ``compute_dtype``).
        fold_bn: fold BatchNorm into the preceding convs (:func:`fold_batchnorms`).
        channels_last: convert 4-d weights to ``torch.channels_last``.
        onednn_pointwise: route 1x1 convs through oneDNN (:func:`pointwise_convs_to_onednn`).
        pack: prepack conv weights and fuse activations (:func:`pack_convolutions`); default:
            when the model is on the CPU, oneDNN is available and ``fold_bn`` is on.

    Preparing twice is refused (``RuntimeError``): the second fold would find no BN, and a
    second dtype would silently change the first preparation.
    """
    dtype = torch.float32 if dtype is None else dtype
    if dtype not in COMPUTE_DTYPES.values():
        raise ValueError(f"unsupported compute dtype {dtype}; use one of {', '.join(COMPUTE_DTYPES)}")
    if getattr(model, "inference_dtype", None) is not None:
        raise RuntimeError(f"model is already prepared for inference ({model.inference_dtype})")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if fold_bn:
        fold_batchnorms(model)
    if onednn_pointwise:
        pointwise_convs_to_onednn(model)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if dtype != torch.float32:
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.to(dtype)
    on_cpu = all(p.device.type == "cpu" for p in model.parameters())
    if pack is None:
        pack = fold_bn and on_cpu and torch.backends.mkldnn.is_available()
    if pack:
        pack_convolutions(model)
    model.inference_dtype = dtype
    return model
