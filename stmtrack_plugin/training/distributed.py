"""Process-group set-up for ``torchrun`` (one node or several) and DDP wrapping.

``torchrun`` exports ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; without them the run is a
single process. The backend is NCCL on CUDA devices and gloo otherwise (CPU tests run 2 gloo
processes).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Mapping, Optional

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_info_from_env(env: Optional[Mapping[str, str]] = None) -> DistInfo:
    env = os.environ if env is None else env
    return DistInfo(int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)),
                    int(env.get("WORLD_SIZE", 1)))


def init_distributed(device: torch.device, info: DistInfo) -> None:
    """Join the process group when ``WORLD_SIZE`` > 1 (env:// rendezvous from torchrun)."""
    if not info.enabled or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def sum_across_processes(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over all processes (identity for a single process)."""
    if not info.enabled:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def convert_batchnorm(model: torch.nn.Module, sync_bn: bool, device: torch.device,
                      info: DistInfo) -> torch.nn.Module:
    """Swap BatchNorm for SyncBatchNorm when asked and possible (multi-process CUDA).

    State-dict keys do not change. On CPU, or with a single process, BN stays per process (the
    authors' effective behaviour), with a warning when SyncBN was requested for several processes.
    """
    if not (sync_bn and info.enabled):
        return model
    if device.type != "cuda":
        if info.is_main:
            warnings.warn("sync_bn needs CUDA devices; BatchNorm stays per process on "
                          f"{device.type}")
        return model
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)


def wrap_ddp(model: torch.nn.Module, device: torch.device, info: DistInfo) -> torch.nn.Module:
    """DistributedDataParallel over the trainable parameters (rebuilt whenever freezing changes)."""
    if not info.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
