"""Run a network stage on another thread in the calling thread's torch modes.

``torch.inference_mode``, grad mode and ``torch.autocast`` are thread-local: a function handed
to a worker thread would otherwise run with gradients on and in float32. :func:`submit_here`
captures them where it is called and re-enters them on the worker. The tracker uses it for
``TrackerParams.parallel_stages`` (two independent halves of a step at once, exact).
"""
from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Callable

import torch


def submit_here(executor: Executor, device_type: str, fn: Callable, *args) -> Future:
    """``executor.submit(fn, *args)`` under this thread's inference/grad mode and autocast
    state for ``device_type`` ("cpu", "cuda"); returns the future of ``fn``'s result."""
    inference = torch.is_inference_mode_enabled()
    grad = torch.is_grad_enabled()
    autocast = torch.is_autocast_enabled(device_type)
    dtype = torch.get_autocast_dtype(device_type)

    def run():
        with torch.inference_mode(inference), torch.set_grad_enabled(grad), \
                torch.autocast(device_type, dtype=dtype, enabled=autocast):
            return fn(*args)

    return executor.submit(run)
