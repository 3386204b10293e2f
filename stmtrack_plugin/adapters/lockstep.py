"""``--batch K``: run K sequences in lockstep, one batched network step per frame step.

Each of K slots is a thread that takes the next waiting job and runs it through the unchanged
protocol (:func:`~.protocols.run_ope` / ``run_reset``, result files, provenance) with a
:class:`LockstepTracker`: ``initialize`` runs at once (no network call), ``track`` hands the
prepared frame to a :class:`LockstepGroup` and waits. Once every running slot is waiting, the
group runs :func:`~stmtrack_plugin.tracking.batch.track_step` on all of them (one batched
``memorize`` and one batched ``track``) and wakes them. A slot whose sequence ends takes the
next waiting job; when none is left it leaves the group, so the batch shrinks: no slot ever
holds a batch step up.

With ``lanes`` L > 1 the slots form L groups (slot i in group i mod L) that step independently,
each on its own slot threads, so on a CPU the L batched steps run on different cores at the same
time (the runner gives each lane its share of the threads). Each group is a smaller batch; which
group a sequence lands in never changes its result.

Times in the result files are the wall time of each ``track`` call, i.e. of the batched step
(shared by the K sequences) plus waiting for the other slots to read their frames.
"""
from __future__ import annotations

import queue
import threading
import traceback
from typing import Callable, List, Optional, Sequence

from stmtrack_plugin.tracking.batch import check_batchable, track_step, tracker_like
from stmtrack_plugin.tracking.tracker import STMTracker, TrackResult


class _Request:
    def __init__(self, tracker: STMTracker, step):
        self.tracker, self.step = tracker, step
        self.result: Optional[TrackResult] = None
        self.error: Optional[BaseException] = None
        self.done = False


class LockstepGroup:
    """Collects the ``track`` requests of the running slots; runs them as one batched step."""

    def __init__(self, step: Callable = track_step):
        self._step = step
        self._cond = threading.Condition()
        self._members = 0
        self._waiting: List[_Request] = []
        self.batch_sizes: List[int] = []  # size of every batched step run (for tests)

    def join(self) -> None:
        with self._cond:
            self._members += 1

    def leave(self) -> None:
        with self._cond:
            self._members -= 1
            self._run_if_complete()

    def track(self, tracker: STMTracker, image) -> TrackResult:
        """Called by a slot's thread: wait for the batched step that tracks ``image``."""
        request = _Request(tracker, tracker.prepare_step(image))  # bad frames raise here
        with self._cond:
            self._waiting.append(request)
            self._run_if_complete()
            while not request.done:
                self._cond.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _run_if_complete(self) -> None:
        """With the lock held: run the step once every member is waiting."""
        if not self._waiting or len(self._waiting) < self._members:
            return
        batch, self._waiting = self._waiting, []
        self.batch_sizes.append(len(batch))
        try:
            results = self._step([r.tracker for r in batch], [r.step for r in batch])
            for r, result in zip(batch, results):
                r.result = result
        except Exception as exc:  # every sequence of the failed step reports it
            for r in batch:
                r.error = exc
        for r in batch:
            r.done = True
        self._cond.notify_all()


class LockstepTracker:
    """A :class:`~stmtrack_plugin.interfaces.Tracker` whose ``track`` joins the group's steps."""

    def __init__(self, tracker: STMTracker, group: LockstepGroup):
        self.tracker, self.group = tracker, group

    def initialize(self, image, box) -> None:
        self.tracker.initialize(image, box)

    def track(self, image) -> TrackResult:
        return self.group.track(self.tracker, image)


def check_batch_tracker(tracker) -> STMTracker:
    """``--batch`` needs an :class:`STMTracker` on a model that takes ``memory_mask``."""
    import inspect

    if not isinstance(tracker, STMTracker):
        raise ValueError(f"--batch > 1 needs the stmtrack tracker, not {type(tracker).__name__}")
    if "memory_mask" not in inspect.signature(tracker.model.track).parameters:
        raise ValueError(f"--batch > 1 needs a model whose track() takes memory_mask "
                         f"({type(tracker.model).__name__} does not)")
    return tracker


def run_lockstep(tracker: STMTracker, jobs: Sequence, batch: int, execute: Callable,
                 report: Callable, lanes: int = 1) -> List[int]:
    """Run ``jobs`` in ``batch`` slots split into ``lanes`` groups that step independently;
    ``execute(job, tracker)`` runs one job (raising on failure), ``report(job, error)`` receives
    ``None`` or the traceback. Returns the size of every batched step (all lanes). ``tracker``
    gives the model and parameters every slot shares."""
    check_batch_tracker(tracker)
    if isinstance(lanes, bool) or not isinstance(lanes, int) or not 1 <= lanes <= batch:
        raise ValueError(f"lanes must be an int in 1 .. batch ({batch}), got {lanes!r}")
    waiting: "queue.Queue" = queue.Queue()
    for job in jobs:
        waiting.put(job)
    report_lock = threading.Lock()
    slots = min(batch, len(jobs))
    trackers = [tracker] + [tracker_like(tracker) for _ in range(slots - 1)]
    check_batchable(trackers)
    groups = [LockstepGroup() for _ in range(min(lanes, slots))]
    for i in range(slots):
        groups[i % len(groups)].join()  # before any thread starts: a first step waits for all

    def slot(own: STMTracker, group: LockstepGroup) -> None:
        try:
            while True:
                try:
                    job = waiting.get_nowait()
                except queue.Empty:
                    return
                try:
                    execute(job, LockstepTracker(own, group))
                    error = None
                except Exception:
                    error = traceback.format_exc()
                with report_lock:
                    report(job, error)
        finally:
            group.leave()

    threads = [threading.Thread(target=slot, args=(t, groups[i % len(groups)]),
                                name=f"stmtrack-batch-{i}", daemon=True)
               for i, t in enumerate(trackers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [size for group in groups for size in group.batch_sizes]
