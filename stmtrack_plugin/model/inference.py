"""Inference preparation of an :class:`~stmtrack_plugin.model.STMTrack`: fold, relayout, cast.

:func:`prepare_for_inference` rewrites a loaded model, in place, for the tracker's forward passes:

* **BatchNorm folded into the conv before it** (every trunk block, both trunks, and the head's
  three output ``ConvBN`` s): ``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps)
  + beta``; the BN becomes ``nn.Identity``. One pass over each activation map less per block.
* **1x1 convolutions through oneDNN**: PyTorch sends a batch-1, stride-1 1x1 conv to its
  im2col + GEMM path when it runs on one thread (and to oneDNN on two or more threads, which is
  how the authors' parity fixtures were made); oneDNN is ~2.5x faster on it (:class:`OneDnnConv1x1`).
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
                          onednn_pointwise: bool = True) -> nn.Module:
    """Prepare ``model`` (an ``STMTrack``, any trunk) in place for tracking; returns it, in eval mode.

    Args:
        dtype: ``None`` / ``torch.float32`` (exact path) or ``torch.bfloat16`` (weights of every
            conv cast once; run the model under ``torch.autocast`` with that dtype, as
            :class:`~stmtrack_plugin.tracking.STMTracker` does for ``compute_dtype``).
        fold_bn: fold BatchNorm into the preceding convs (:func:`fold_batchnorms`).
        channels_last: convert 4-d weights to ``torch.channels_last``.
        onednn_pointwise: route 1x1 convs through oneDNN (:func:`pointwise_convs_to_onednn`).

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
    model.inference_dtype = dtype
    return model
