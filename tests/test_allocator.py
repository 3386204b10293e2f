"""``keep_freed_memory``: blocks above glibc's mmap threshold come from the heap and stay there
for the next step instead of being mapped and faulted in afresh, on the main thread and on
threads started later (one arena)."""
import platform
import subprocess
import sys

import pytest

from stmtrack_plugin.allocator import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

#: Two 48 MiB blocks (above glibc's 32 MiB cap on its dynamic mmap threshold; together above the
#: 64 MiB heap of a thread's own arena) allocated and freed on the main thread, then on a new
#: thread; prints, from glibc's ``mallinfo2`` (totals over all arenas), for each: whether a block
#: was mmapped, whether the arenas grew for them, and whether they gave memory back on ``free``.
PROGRAM = """
import ctypes, sys, threading
import numpy as np
from stmtrack_plugin.allocator import keep_freed_memory
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena ordblks smblks hblks hblkhd usmblks "
                                               "fsmblks uordblks fordblks keepcost").split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info
if sys.argv[1] == "keep":
    assert keep_freed_memory()
SIZE = 48 << 20
def block(out):
    before = libc.mallinfo2()
    data = [np.ones(SIZE, dtype=np.uint8) for _ in range(2)]
    alive = libc.mallinfo2()
    del data
    after = libc.mallinfo2()
    out += [int(alive.hblkhd - before.hblkhd >= SIZE), int(alive.arena - before.arena >= SIZE),
            int(alive.arena - after.arena >= SIZE // 2)]
out = []
block(out)
worker = threading.Thread(target=block, args=(out,))
worker.start(); worker.join()
print(*out)
"""


def _malloc_report(mode):
    run = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return [int(v) for v in run.stdout.split()]


@pytest.mark.skipif(not GLIBC, reason="glibc malloc settings")
def test_big_blocks_come_from_the_main_heap_and_stay_there_after_free():
    # (mmapped, arenas grew, memory given back) on the main thread, then on a thread started
    # afterwards: the heap grows once, keeps the memory, and the thread reuses it (one arena;
    # with an arena of its own it would grow a heap and give it back on free)
    assert _malloc_report("default")[:3] == [1, 0, 0]  # the control: glibc maps them afresh
    assert _malloc_report("keep") == [0, 1, 0, 0, 0, 0]


def test_bad_thresholds_are_refused():
    for bad in (0, -1, 2 ** 31, True, 1.5, "1G"):
        with pytest.raises(ValueError, match="malloc threshold"):
            keep_freed_memory(bad)
