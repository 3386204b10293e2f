"""glibc malloc settings that let batched CPU steps reuse freed memory instead of faulting it in.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves a block above its mmap
threshold (dynamic, at most 32 MiB by default) with a fresh ``mmap`` and gives it back to the
system on ``free``, so the next step's tensor of the same size is faulted in and zeroed again,
page by page. A single-sequence step stays under the threshold, but a batched one does not:
with the lite model, one ``memorize`` of 8 crops took about 20,000 minor page faults and twice
the time per crop of a batch of 1 (``benchmarks/bench_batch.py`` prints page faults per frame).

:func:`keep_freed_memory` raises the mmap and trim thresholds so that such blocks come from the
heap and stay there after ``free`` for the next step, and keeps every thread on one malloc arena:
``--batch`` runs its steps on slot threads (and ``parallel_stages`` on a stage thread), and a
thread's own arena grows in heaps of at most 64 MiB, so a batch's blocks would come from ``mmap``
again there (measured: 2,255 faults per frame instead of 21 with ``parallel_stages``). Memory that a run has freed is then kept
by the process (up to the trim threshold) instead of returned to the system; the peak stays the
same. It changes where memory comes from, never a computed number.

Process-wide and not undone: ``stmtrack eval --batch K`` (K > 1) calls it; other programs may.
glibc only (Linux); elsewhere it does nothing and returns False. No torch import here.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform

#: glibc ``mallopt`` parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: the default threshold for both: blocks up to 1 GiB come from the heap and are kept there
DEFAULT_THRESHOLD = 1 << 30


def keep_freed_memory(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds to ``threshold`` bytes and its arena count to 1
    (for threads that allocate from now on); True when all three were set.

    Raises ``ValueError`` for a threshold that is not a positive int below 2**31 (``mallopt``
    takes a C int). Returns False, changing nothing, where the C library is not glibc.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold < 2 ** 31:
        raise ValueError(f"malloc threshold must be an int in 1 .. 2**31 - 1 bytes, got {threshold!r}")
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, threshold), (M_TRIM_THRESHOLD, threshold), (M_ARENA_MAX, 1))
    return all([bool(mallopt(param, value)) for param, value in settings])
