"""CPU thread defaults that do not fall off the oversubscription cliff.

On a CPU that other jobs already keep busy, OpenMP threads that spin-wait between parallel
regions (GNU OpenMP's default) fight the other jobs for the cores: with the small networks here,
2 torch threads were 6-80x slower than 1 on a loaded 2-core machine. Two defaults avoid that:

* ``OMP_WAIT_POLICY=PASSIVE`` (idle OpenMP threads sleep instead of spinning), set by the
  ``stmtrack`` console command before torch is imported, unless the user set it. The OpenMP
  runtime reads it once, when torch is first imported, so it cannot be changed later in a
  process.
* threads = the cores that are free: usable cores (the CPU affinity mask) minus the 1-minute
  load average (rounded down), at least 1, divided among the worker processes. An explicit
  ``--threads`` always wins.

No torch import here: this module runs before torch is loaded.
"""
from __future__ import annotations

import math
import os
from typing import Dict, Mapping, Optional

#: OpenMP settings the console command sets when the environment has no value for them
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


def openmp_env_defaults(environ: Mapping[str, str]) -> Dict[str, str]:
    """The entries of :data:`OPENMP_DEFAULTS` that ``environ`` does not set (to add to it)."""
    return {k: v for k, v in OPENMP_DEFAULTS.items() if not environ.get(k)}


def choose_threads(requested: Optional[int], usable_cores: int, load_average: float,
                   workers: int = 1) -> int:
    """Threads per process: ``requested`` when given, else the free cores shared by ``workers``.

    Free cores = ``usable_cores - floor(load_average)``, kept within ``1 .. usable_cores``;
    each of ``workers`` processes gets ``free // workers`` threads, at least 1.
    """
    if requested is not None:
        if int(requested) < 1:
            raise ValueError(f"--threads must be >= 1, got {requested}")
        return int(requested)
    usable = max(1, int(usable_cores))
    load = load_average if math.isfinite(load_average) and load_average > 0 else 0.0
    free = min(usable, max(1, usable - math.floor(load)))
    return max(1, free // max(1, int(workers)))


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_threads(requested: Optional[int] = None, workers: int = 1) -> int:
    """:func:`choose_threads` for this machine now."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return choose_threads(requested, usable_cores(), load, workers)
