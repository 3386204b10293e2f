"""Seeded random ("perturbed") weights: a full, valid checkpoint without any training.

Useful for smoke tests, demos of the pipeline and speed measurements. Such weights do **not**
track: the score peak sits on the same cell whatever the image. The recipe is the one of the
parity fixtures (``../shared/parity/make_weights.py``), so seed 0 reproduces their weights bit for
bit: every tensor is drawn in state_dict order from one ``torch.Generator(seed + 1)``:

* conv weights (4-d): He normal, ``randn * sqrt(2 / fan_in)``;
* ``running_var``: U(0.5, 2.0); BN ``weight``: U(0.6, 1.2); ``running_mean``: N(0, 0.2^2);
  other tensors (biases): N(0, 0.1^2); ``num_batches_tracked`` = 0 (no draw);
* ``head.si`` = 0.5 and ``head.bi`` = 1.5 (no draw);
* then the head output BN weights are scaled: cls x8, ctr x4, reg x0.5 (spread the logits and
  keep ``exp`` of the box offsets sane).
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import Mapping, Sequence

import torch

_HEAD_BN_SCALE = (("cls_score", 8.0), ("ctr_score", 4.0), ("reg_offsets", 0.5))


def perturbed_state_dict(shapes: Mapping[str, Sequence[int]], seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Draw a state dict for ``shapes`` ({key: shape}, in state_dict order)."""
    gen = torch.Generator().manual_seed(seed + 1)
    state = OrderedDict()
    for name, shape in shapes.items():
        shape = torch.Size(shape)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros(shape, dtype=torch.int64)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        elif name in ("head.si", "head.bi"):
            state[name] = torch.full(shape, 0.5 if name == "head.si" else 1.5)
        elif name.endswith("running_var"):
            state[name] = 0.5 + (2.0 - 0.5) * torch.rand(shape, generator=gen)
        elif name.endswith("bn.weight"):
            state[name] = 0.6 + (1.2 - 0.6) * torch.rand(shape, generator=gen)
        else:
            scale = 0.2 if name.endswith("running_mean") else 0.1
            state[name] = torch.randn(shape, generator=gen) * scale
    for layer, factor in _HEAD_BN_SCALE:
        key = f"head.{layer}.bn.weight"
        if key in state:
            state[key].mul_(factor)
    return state


def randomize_model(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Overwrite every tensor of ``model`` with :func:`perturbed_state_dict` values."""
    shapes = OrderedDict((k, tuple(v.shape)) for k, v in model.state_dict().items())
    model.load_state_dict(perturbed_state_dict(shapes, seed))
    return model


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over key names and raw tensor bytes in key order (the parity README's digest)."""
    h = hashlib.sha256()
    for name, tensor in state.items():
        h.update(name.encode())
        h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()
