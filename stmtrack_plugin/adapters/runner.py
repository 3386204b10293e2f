"""Resumable multi-sequence runner shared by the toolkit commands.

* Each sequence is a :class:`Job` (frames, ground truth, protocol, output layout).
* A job whose result file exists is skipped, so re-running a command resumes where it stopped;
  result files are written atomically (see :mod:`layouts`), so an interrupted sequence is redone.
* Beside every result the runner keeps a record of what produced it (weights SHA-256, every
  parameter, the frame limit, the package version: :mod:`provenance`). A result whose record
  differs from the current run's (or that has none) is never reused: the run stops before
  tracking with :class:`provenance.ResultMismatch` naming the differences, unless ``overwrite``,
  which re-runs those sequences. The record is written before the result file, and an old result
  is removed first, so a result file always sits next to its own record.
* Output folders are checked writable before anything is tracked.
* Worker processes exit when the driver process dies (a watchdog thread polls the parent pid).
* ``workers > 1`` runs sequences in that many processes (``spawn`` start method, safe with torch);
  each builds its tracker once from a picklable factory (e.g. :class:`factory.TrackerSpec`).
* An exception on one sequence is reported (with its traceback) and the others go on; a worker
  process that dies outright is replaced and its sequence retried once before it is reported.
* A tqdm bar shows sequences done; with one worker a second bar shows the frames of the current
  sequence and its tracking speed (:class:`FrameProgress`, init frames not counted).
* ``batch > 1`` tracks that many sequences at once with batched network calls (:mod:`lockstep`);
  its frames bar counts the frames of all of them (rate: frames/s).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from stmtrack_plugin.adapters import provenance
from stmtrack_plugin.adapters.layouts import BaselineLayout, GOT10kLayout, OPELayout
from stmtrack_plugin.adapters.protocols import run_ope, run_reset
from stmtrack_plugin.allocator import keep_freed_memory
from stmtrack_plugin.interfaces import Tracker
from stmtrack_plugin.threads import resolve_threads
from stmtrack_plugin.utils.io import ensure_writable

Layout = Union[OPELayout, GOT10kLayout, BaselineLayout]


@dataclass(frozen=True)
class Job:
    """One sequence to run.

    ``groundtruth`` is (N, 4) xywh (or (N, 8) polygons for ``reset``), 0-based. ``protocol`` is
    ``"ope"`` (initialise on frame 0 only) or ``"reset"`` (VOT baseline). ``init_boxes`` (N, 4)
    are the (re-)initialisation boxes; default: the ground truth's bounding boxes.
    """

    name: str
    frames: tuple
    groundtruth: np.ndarray
    layout: Layout
    protocol: str = "ope"
    init_boxes: Optional[np.ndarray] = None
    skip: int = 5

    def __post_init__(self):
        if self.protocol not in ("ope", "reset"):
            raise ValueError(f"protocol must be 'ope' or 'reset', got {self.protocol!r}")
        if len(self.frames) == 0:
            raise ValueError(f"sequence {self.name!r} has no frames")

    @property
    def done(self) -> bool:
        return os.path.isfile(self.layout.result_file(self.name))

    def record(self, run_record: dict) -> dict:
        """The run's provenance record plus this job's protocol settings."""
        extra = {"protocol": self.protocol}
        if self.protocol == "reset":
            extra["skip"] = self.skip
        return provenance.normalised({**run_record, **extra})

    def differences(self, run_record: dict) -> list:
        """Why the existing result may not be reused (empty: it matches this run)."""
        stored = provenance.read_record(self.layout.root, self.name)
        return provenance.differences(stored, self.record(run_record))

    def execute(self, tracker: Tracker, run_record: Optional[dict] = None, on_frame=None) -> None:
        """Run the protocol and write the result files; the old result (if any) goes first,
        then the provenance record, then the new result (the file that means "done").
        ``on_frame``: see :mod:`protocols`."""
        init = self.init_boxes if self.init_boxes is not None else _bounds(self.groundtruth)
        if self.protocol == "ope":
            result = run_ope(tracker, self.frames, init[0], on_frame=on_frame)
        else:
            result = run_reset(tracker, self.frames, self.groundtruth, init, skip=self.skip,
                               on_frame=on_frame)
        if self.done:
            os.remove(self.layout.result_file(self.name))
        if run_record is not None:
            provenance.write_record(self.layout.root, self.name, self.record(run_record))
        self.layout.write(self.name, result)


def _bounds(regions) -> np.ndarray:
    r = np.asarray(regions, dtype=np.float64)
    if r.shape[1] == 4:
        return r
    xs, ys = r[:, 0::2], r[:, 1::2]
    return np.stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)], 1)


class FrameProgress:
    """A per-sequence tqdm bar of frames with the tracking speed as postfix.

    The speed is :func:`~stmtrack_plugin.evaluation.metrics.tracking_fps` of the frames so far
    (mean of ``1 / t`` over ``track`` calls; init frames are not tracking frames), the figure
    the result files give.
    """

    def __init__(self, name: str, total: int, enabled: bool = True):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=name, unit="frame", leave=False, disable=not enabled,
                        file=sys.stderr, position=1)
        self.inverse_sum, self.count = 0.0, 0

    def __call__(self, frame: int, seconds: float, initialized: bool) -> None:
        if not initialized and np.isfinite(seconds) and seconds > 0:
            self.inverse_sum += 1.0 / seconds
            self.count += 1
            self.bar.set_postfix(fps=f"{self.fps:.2f}", refresh=False)
        self.bar.update(1)

    @property
    def fps(self) -> float:
        return self.inverse_sum / self.count if self.count else float("nan")

    def close(self) -> None:
        self.bar.close()


@dataclass
class RunSummary:
    """Names of sequences finished now, skipped (already done) and failed (name -> traceback)."""

    finished: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        text = (f"{len(self.finished)} sequence(s) run, {len(self.skipped)} skipped (results "
                f"exist), {len(self.failed)} failed")
        if self.failed:
            text += ": " + ", ".join(sorted(self.failed))
        return text


# --- worker side --------------------------------------------------------------------------
_WORKER_TRACKER = None
_WORKER_INIT_ERROR: Optional[str] = None


#: seconds between a worker's checks that the driver process is still alive
PARENT_POLL_S = 0.5


def _exit_when_parent_dies(parent_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """Start a daemon thread that ends this process once ``parent_pid`` is no longer its parent
    (the driver died, even by SIGKILL: the worker is re-parented). Portable (no prctl), and it
    works while the main thread is blocked reading the pool's call queue."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)  # nothing to clean up: the driver that wanted the results is gone

    threading.Thread(target=watch, name="stmtrack-parent-watchdog", daemon=True).start()


def _init_worker(factory, threads: Optional[int], parent_pid: Optional[int] = None) -> None:
    global _WORKER_TRACKER, _WORKER_INIT_ERROR
    if parent_pid is not None:
        _exit_when_parent_dies(parent_pid)
    _set_threads(threads)
    try:
        _WORKER_TRACKER = factory()
    except Exception:  # reported per job instead of breaking the pool
        _WORKER_INIT_ERROR = "building the tracker failed:\n" + traceback.format_exc()


def _set_threads(threads: Optional[int]):
    """Set OpenCV and torch threads; returns the previous (cv2, torch) counts to restore."""
    if not threads:
        return None
    import cv2
    import torch

    previous = (cv2.getNumThreads(), torch.get_num_threads())
    cv2.setNumThreads(threads)
    torch.set_num_threads(threads)
    return previous


def _run_in_worker(job: Job, run_record: Optional[dict] = None) -> Optional[str]:
    if _WORKER_INIT_ERROR is not None:
        return _WORKER_INIT_ERROR
    try:
        job.execute(_WORKER_TRACKER, run_record)
        return None
    except Exception:
        return traceback.format_exc()


# --- driver side --------------------------------------------------------------------------
def run_jobs(factory: Callable[[], Tracker], jobs: Sequence[Job], workers: int = 1,
             progress: bool = True, desc: str = "sequences",
             threads_per_worker: Optional[int] = None, settings: Optional[dict] = None,
             overwrite: bool = False, batch: int = 1, lanes: int = 1) -> RunSummary:
    """Run ``jobs`` with trackers from ``factory``; never raises for a failing sequence.

    ``factory`` is called once per process (once in total when ``workers`` is 1) and must be
    picklable when ``workers > 1``. Failures are printed as they happen and collected in the
    returned :class:`RunSummary`.

    Provenance: the run's record is ``factory.provenance()`` (or the factory's name) plus
    ``settings`` (e.g. ``{"max_frames": 50, "init_rule": "stmtrack"}``). Existing results with
    another record raise :class:`provenance.ResultMismatch` before anything runs, unless
    ``overwrite`` (then they are run again and replaced). Unwritable output folders raise
    :class:`~stmtrack_plugin.utils.io.NotWritableError`, also before anything runs.

    ``batch`` > 1 tracks that many sequences in lockstep in this process, one batched network
    step per frame (:mod:`lockstep`; ``factory`` must build an STMTracker); it needs
    ``workers`` 1. Results, records and resuming are the same as with ``batch`` 1. ``lanes``
    L splits the batch into L groups that step at the same time, each on ``threads / L`` of
    the threads (:func:`lockstep.run_lockstep`).
    """
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    if lanes != 1 and not 1 <= lanes <= batch:
        raise ValueError(f"--lanes must be between 1 and --batch ({batch}), got {lanes}")
    if batch > 1 and workers > 1:
        raise ValueError("--batch > 1 runs the batch in one process: use --workers 1 "
                         "(and --threads for the cores)")
    from tqdm import tqdm

    run_record = provenance.normalised({**provenance.factory_record(factory),
                                        **(settings or {})})
    summary = RunSummary()
    todo, mismatched = [], {}
    for job in jobs:
        diffs = job.differences(run_record) if job.done else None
        if diffs == []:
            summary.skipped.append(job.name)
        elif diffs and not overwrite:
            mismatched[job.name] = diffs
        else:
            todo.append(job)
    if mismatched:
        raise provenance.ResultMismatch(_mismatch_message(jobs, mismatched))
    for root in sorted({job.layout.root for job in todo}):
        ensure_writable(root, "results")
    bar = tqdm(total=len(jobs), initial=len(summary.skipped), desc=desc, unit="seq",
               disable=not progress, file=sys.stderr)

    def report(job: Job, error: Optional[str]) -> None:
        if error is None:
            summary.finished.append(job.name)
        else:
            summary.failed[job.name] = error
            tqdm.write(f"[stmtrack] sequence {job.name!r} failed; the others go on:\n{error}",
                       file=sys.stderr)
        bar.update(1)

    try:
        if todo and batch > 1:
            _run_batched(factory, todo, report, threads_per_worker, run_record, progress, batch,
                         lanes)
        elif todo and workers <= 1:
            _run_serial(factory, todo, report, threads_per_worker, run_record, progress)
        elif todo:
            _run_pool(factory, todo, report, workers, threads_per_worker, run_record)
    finally:
        bar.close()
    return summary


def _mismatch_message(jobs, mismatched: Dict[str, list]) -> str:
    """One paragraph per distinct set of differences, naming the sequences."""
    roots = sorted({job.layout.root for job in jobs if job.name in mismatched})
    groups: Dict[tuple, list] = {}
    for name, diffs in mismatched.items():
        groups.setdefault(tuple(diffs), []).append(name)
    lines = [f"{len(mismatched)} existing result(s) in {', '.join(roots)} were not made by this "
             "run's tracker and settings, so they cannot be resumed:"]
    for diffs, names in groups.items():
        shown = ", ".join(sorted(names)[:5]) + (" ..." if len(names) > 5 else "")
        lines.append(f"  {shown}: " + "; ".join(diffs))
    lines.append("Pass --overwrite to run them again and replace them (or use another results "
                 "folder or --name).")
    return "\n".join(lines)


def _run_serial(factory, jobs, report, threads, run_record, progress: bool = False) -> None:
    previous = _set_threads(resolve_threads(threads))
    try:
        tracker = factory()
        for job in jobs:
            frames = FrameProgress(job.name, len(job.frames), progress)
            try:
                job.execute(tracker, run_record, on_frame=frames)
                report(job, None)
            except Exception:
                report(job, traceback.format_exc())
            finally:
                frames.close()
    finally:
        if previous is not None:
            import cv2
            import torch

            cv2.setNumThreads(previous[0])
            torch.set_num_threads(previous[1])


def _run_batched(factory, jobs, report, threads, run_record, progress: bool, batch: int,
                 lanes: int = 1) -> None:
    """``batch`` sequences in lockstep (:func:`lockstep.run_lockstep`) in ``lanes`` groups, the
    threads shared among the lanes; one frames bar for all of them, whose rate is the frames
    tracked per second. Batched activations outgrow glibc's
    mmap threshold, so freed memory is kept for reuse (:func:`keep_freed_memory`, process-wide)."""
    from tqdm import tqdm

    from stmtrack_plugin.adapters.lockstep import run_lockstep

    keep_freed_memory()
    previous = _set_threads(max(1, resolve_threads(threads) // lanes))
    bar = tqdm(total=sum(len(job.frames) for job in jobs), desc=f"frames (batch {batch}"
               + (f", {lanes} lanes)" if lanes > 1 else ")"),
               unit="frame", leave=False, disable=not progress, file=sys.stderr, position=1)
    lock = threading.Lock()

    def on_frame(frame: int, seconds: float, initialized: bool) -> None:
        with lock:
            bar.update(1)

    try:
        run_lockstep(factory(), jobs, batch,
                     lambda job, tracker: job.execute(tracker, run_record, on_frame=on_frame),
                     report, lanes)
    finally:
        bar.close()
        if previous is not None:
            import cv2
            import torch

            cv2.setNumThreads(previous[0])
            torch.set_num_threads(previous[1])


def _new_pool(factory, workers, threads):
    # share the free cores: oversubscribed torch threads are many times slower
    threads = resolve_threads(threads, workers)
    ctx = multiprocessing.get_context("spawn")
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                  initializer=_init_worker,
                                  initargs=(factory, threads, os.getpid()))


def _run_pool(factory, jobs, report, workers, threads, run_record) -> None:
    """Process pool; a pool broken by a dying worker is rebuilt and its jobs retried once."""
    attempts = {job.name: 0 for job in jobs}
    pending = list(jobs)
    while pending:
        pool = _new_pool(factory, min(workers, len(pending)), threads)
        futures = {pool.submit(_run_in_worker, job, run_record): job for job in pending}
        pending = []
        for future in cf.as_completed(futures):
            job = futures[future]
            try:
                report(job, future.result())
            except cf.process.BrokenProcessPool as exc:
                attempts[job.name] += 1
                if attempts[job.name] >= 2:
                    report(job, f"worker process died while running it ({exc})")
                else:
                    pending.append(job)
        pool.shutdown(wait=True, cancel_futures=True)
