"""Raw-result file layouts of the toolkits, written atomically.

Every layout is a small frozen dataclass (picklable, so worker processes can write) with
``result_file(seq)``: the file whose existence means "this sequence is finished" (it is written
last, atomically, so a crash never leaves a partial result that a resumed run would skip), and
``write(seq, record)``.

=====================  ==========================================================================
layout                 files (relative to ``root``)
=====================  ==========================================================================
:class:`OPELayout`     ``<seq>.txt`` comma-separated ``x,y,w,h`` per frame (got10k OTB/UAV123/
                       LaSOT experiments, pysot OTB100/UAV123/LaSOT), ``times/<seq>_time.txt``
:class:`GOT10kLayout`  ``<seq>/<seq>_001.txt`` and ``<seq>/<seq>_time.txt`` (got10k GOT-10k)
:class:`BaselineLayout` ``baseline/<seq>/<seq>_001.txt`` with ``1`` / ``2`` / ``0`` codes or boxes
                       (VOT reset protocol; pysot and got10k), optionally ``<seq>_time.txt``
=====================  ==========================================================================

Time files hold one line per frame: the seconds of the ``track`` call, ``NaN`` for frames that
were not tracked (init and re-init frames, skipped frames). got10k writes the init time on
line 1 and its reports (like the GOT-10k server) average ``1 / t`` over every finite positive
line; STMTrack's ``initialize`` takes < 1 ms (the memory encoding runs in the next ``track``),
so that one line would dominate the average (38-140 FPS reported for a 0.1-3 FPS tracker).
Written as NaN, which got10k already uses for untimed frames, every got10k reader reports the
tracking speed (:func:`stmtrack_plugin.evaluation.metrics.tracking_fps`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from stmtrack_plugin.adapters.protocols import OPERecord, ResetRecord
from stmtrack_plugin.utils.io import atomic_write_text


def format_box(box, precision: int = 4) -> str:
    """``x,y,w,h`` with fixed decimals (comma-separated: read by pysot, got10k and pytracking)."""
    return ",".join(f"{float(v):.{precision}f}" for v in box)


def format_boxes(boxes, precision: int = 4) -> str:
    return "".join(format_box(b, precision) + "\n" for b in np.asarray(boxes).reshape(-1, 4))


def format_reset_entries(entries, precision: int = 4) -> str:
    """One line per frame: the code (``1``, ``2``, ``0``) or ``x,y,w,h``."""
    lines = [str(e) if isinstance(e, int) else format_box(e, precision) for e in entries]
    return "\n".join(lines) + "\n"


def _format_times(times) -> str:
    return "".join(("NaN" if not np.isfinite(t) else f"{t:.8f}") + "\n" for t in times)


@dataclass(frozen=True)
class OPELayout:
    """``<root>/<seq>.txt`` (+ ``<root>/times/<seq>_time.txt``): one-pass results.

    ``origin`` is added to x and y when writing: 1 turns 0-based tracker boxes into the 1-based
    OTB convention (for a tracker that was initialised with ground truth minus 1).
    """

    root: str
    precision: int = 4
    write_times: bool = True
    origin: float = 0.0

    def result_file(self, seq: str) -> str:
        return os.path.join(self.root, f"{seq}.txt")

    def time_file(self, seq: str) -> str:
        return os.path.join(self.root, "times", f"{seq}_time.txt")

    def write(self, seq: str, record: OPERecord) -> None:
        if self.write_times:
            atomic_write_text(self.time_file(seq), _format_times(record.tracking_times))
        boxes = np.asarray(record.boxes, dtype=np.float64) + [self.origin, self.origin, 0, 0]
        atomic_write_text(self.result_file(seq), format_boxes(boxes, self.precision))


@dataclass(frozen=True)
class GOT10kLayout:
    """``<root>/<seq>/<seq>_001.txt`` + ``<seq>_time.txt``: got10k's GOT-10k experiment."""

    root: str
    precision: int = 4

    def result_file(self, seq: str) -> str:
        return os.path.join(self.root, seq, f"{seq}_001.txt")

    def write(self, seq: str, record: OPERecord) -> None:
        times = os.path.join(self.root, seq, f"{seq}_time.txt")
        atomic_write_text(times, _format_times(record.tracking_times))
        atomic_write_text(self.result_file(seq), format_boxes(record.boxes, self.precision))


@dataclass(frozen=True)
class BaselineLayout:
    """``<root>/baseline/<seq>/<seq>_001.txt``: the reset-based VOT baseline.

    ``write_times`` adds got10k's ``<seq>_time.txt`` (leave it off for pysot: its reader globs
    ``*0*.txt`` in the folder and would pick up a time file of a sequence whose name has a 0).
    """

    root: str
    precision: int = 4
    write_times: bool = False

    def result_file(self, seq: str) -> str:
        return os.path.join(self.root, "baseline", seq, f"{seq}_001.txt")

    def write(self, seq: str, record: ResetRecord) -> None:
        if self.write_times:
            times = os.path.join(self.root, "baseline", seq, f"{seq}_time.txt")
            atomic_write_text(times, _format_times(record.tracking_times))
        atomic_write_text(self.result_file(seq),
                          format_reset_entries(record.entries, self.precision))


def read_reset_file(path: str) -> list:
    """Parse a baseline result file: ints for codes, 4-tuples (or polygons) for boxes."""
    entries = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            vals = [float(v) for v in line.split(",")]
            entries.append(int(vals[0]) if len(vals) == 1 else tuple(vals))
    return entries
