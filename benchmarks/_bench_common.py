"""Helpers shared by the benchmark scripts: peak RSS, the machine line, box agreement.

Import from a script in this folder (``python benchmarks/X.py`` puts the folder on ``sys.path``).
"""
from __future__ import annotations

import os
import platform
import resource
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("STMTRACK_SHARED", os.path.join(HERE, "..", "..", "shared"))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status`` (the high-water mark of this process's own memory
    map). ``ru_maxrss`` is not used there: across fork + exec it keeps the parent's peak, so a
    child started by a large process would report the parent's figure. Elsewhere ``ru_maxrss``
    (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024.0


def load_average() -> float:
    """The 1-minute load average (runnable processes, all cores together)."""
    return os.getloadavg()[0]


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """One line naming the machine, the torch build and the thread settings of this process."""
    import torch

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    env = {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    return (f"machine: {cpu_model()}, {cores} cores ({usable} usable), {platform.platform()}; "
            f"python {platform.python_version()}, torch {torch.__version__}; threads: torch "
            f"{torch.get_num_threads()}, OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, "
            f"OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N, 4) xywh boxes, row by row (the same convention on both sides)."""
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return inter / np.maximum(union, 1e-12)
