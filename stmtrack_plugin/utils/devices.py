"""``--device`` names to torch devices, for every command (``track``, ``train``, ...)."""
from __future__ import annotations

from typing import Optional

import torch


def resolve_device(name: str, local_rank: Optional[int] = None) -> torch.device:
    """The torch device ``--device name`` stands for, checked to exist on this machine.

    ``auto`` is CUDA when available, else the CPU. Under ``torchrun`` (``local_rank`` given) a
    bare ``cuda`` (also from ``auto``) becomes ``cuda:<local_rank>``. Raises ``ValueError`` naming
    the problem for a name that is no torch device, or a CUDA device this machine does not have.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:1, ... or "
                         "auto)") from None
    if device.type == "cuda" and device.index is None and local_rank is not None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available (torch.cuda.is_available() "
                             "is False); use --device cpu or --device auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
    return device
