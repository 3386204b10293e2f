"""Evaluation protocols that drive a tracker over one sequence.

* :func:`run_ope`: one-pass evaluation (OTB, UAV123, LaSOT, GOT-10k): initialise on frame 0 with
  the ground truth, track every later frame, never re-initialise.
* :func:`run_reset`: the reset-based VOT baseline (VOT2013-2019, pysot ``tools/test.py``,
  got10k ``ExperimentVOT``): after a frame whose prediction has zero overlap with the ground truth
  the result is code ``2`` (failure); the frames until ``skip`` frames later get ``0``; then the
  tracker is re-initialised on the ground truth (code ``1``).

Timing: ``times[f]`` is the wall time of the tracker call on frame f (``initialize`` on init frames,
``track`` otherwise; reading the image is not timed). :attr:`OPERecord.tracking_times` /
:attr:`ResetRecord.tracking_times` blank the init frames (NaN): what the result files hold and
what speed figures average (see :func:`stmtrack_plugin.evaluation.metrics.tracking_fps`).
``on_frame(f, seconds, initialized)``, when given, is called after every timed frame (progress).

Trackers are :class:`~stmtrack_plugin.interfaces.Tracker` s. Frames are read as BGR with
:func:`utils.io.read_image_bgr`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np

from stmtrack_plugin.interfaces import Tracker
from stmtrack_plugin.utils.io import read_image_bgr

#: result codes of the reset-based protocol
INIT, FAILURE, SKIPPED = 1, 2, 0


@dataclass(frozen=True)
class OPERecord:
    """One-pass result: (N, 4) xywh boxes (row 0 = init box), (N,) seconds, (N,) scores."""

    boxes: np.ndarray
    times: np.ndarray
    scores: np.ndarray

    @property
    def tracking_times(self) -> np.ndarray:
        """(N,) seconds of the ``track`` calls; NaN for frame 0 (the ``initialize`` call)."""
        t = np.array(self.times, dtype=np.float64)
        t[:1] = np.nan
        return t


@dataclass(frozen=True)
class ResetRecord:
    """Reset-protocol result: one entry per frame, an int code (1/2/0) or an (x, y, w, h) tuple.

    ``times`` holds seconds per frame (NaN for skipped frames), ``scores`` the confidence
    (NaN where no prediction was made), ``failures`` the number of failures.
    """

    entries: tuple
    times: np.ndarray
    scores: np.ndarray

    @property
    def tracking_times(self) -> np.ndarray:
        """(N,) seconds of the ``track`` calls; NaN for init (code 1) and skipped frames."""
        t = np.array(self.times, dtype=np.float64)
        t[[isinstance(e, int) and e == INIT for e in self.entries]] = np.nan
        return t

    @property
    def failures(self) -> int:
        return sum(1 for e in self.entries if isinstance(e, int) and e == FAILURE)


def _as_box(box) -> tuple:
    vals = tuple(float(v) for v in np.asarray(box, dtype=np.float64).reshape(-1)[:4])
    if len(vals) != 4:
        raise ValueError(f"tracker returned a box with {len(vals)} values, expected x, y, w, h")
    return vals


#: progress callback: (frame index, seconds of the tracker call, True for an init frame)
FrameCallback = Callable[[int, float, bool], None]


def run_ope(tracker: Tracker, frames: Sequence[str], init_box,
            on_frame: Optional[FrameCallback] = None) -> OPERecord:
    """Track ``frames`` (paths) from ``init_box`` (x, y, w, h, 0-based) in one pass."""
    n = len(frames)
    if n == 0:
        raise ValueError("sequence has no frames")
    boxes = np.zeros((n, 4), dtype=np.float64)
    times = np.zeros(n, dtype=np.float64)
    scores = np.zeros(n, dtype=np.float64)
    boxes[0] = _as_box(init_box)
    scores[0] = 1.0
    for f, path in enumerate(frames):
        image = read_image_bgr(path)
        start = time.perf_counter()
        if f == 0:
            tracker.initialize(image, boxes[0].copy())
        else:
            out = tracker.track(image)
            boxes[f] = _as_box(out.box)
            scores[f] = float(out.score)
        times[f] = time.perf_counter() - start
        if on_frame is not None:
            on_frame(f, times[f], f == 0)
    return OPERecord(boxes, times, scores)


def _region_polygon(region) -> np.ndarray:
    """(K, 2) float32 polygon of a 4-value rectangle or an 8-value (or longer) polygon."""
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if len(r) == 4:
        x, y, w, h = r
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    if len(r) >= 6 and len(r) % 2 == 0:
        return r.reshape(-1, 2).astype(np.float32)
    raise ValueError(f"region must have 4 (x,y,w,h) or 2K polygon values, got {len(r)}")


def _polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0].astype(np.float64), poly[:, 1].astype(np.float64)
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_to_image(poly: np.ndarray, bound) -> np.ndarray:
    import cv2

    if bound is None:
        return poly
    w, h = bound
    image_rect = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    area, inter = cv2.intersectConvexConvex(_convex(poly), image_rect)
    return inter.reshape(-1, 2) if area > 0 and inter is not None else np.zeros((0, 2), np.float32)


def _convex(poly: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.convexHull(poly.astype(np.float32)).reshape(-1, 2)


def region_overlap(pred, gt, bound=None) -> float:
    """IoU of two regions (4-value rectangles or polygons), both clipped to the image ``bound``.

    ``bound`` is (width, height) or None. Polygons are treated as their convex hull (VOT
    ground-truth quadrilaterals are convex). Returns 0 for empty regions or NaN input.
    """
    import cv2

    a, b = _region_polygon(pred), _region_polygon(gt)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    a, b = _clip_to_image(a, bound), _clip_to_image(b, bound)
    if len(a) < 3 or len(b) < 3:
        return 0.0
    area_a, area_b = _polygon_area(a), _polygon_area(b)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(_convex(a), _convex(b))
    inter = max(float(inter), 0.0)
    return inter / (area_a + area_b - inter)


#: how an initial box is derived from a ground-truth region (see :func:`init_box`)
INIT_RULES = ("stmtrack", "pysot")


def axis_aligned_centre_size(region) -> tuple:
    """pysot's ``get_axis_aligned_bbox``: (cx, cy, w, h) of a rectangle or polygon region.

    A rectangle gives ``cx = x + w/2``; a polygon gives its mean point and the box of its extent
    scaled to the polygon's area, plus one pixel (``w = s * (x2 - x1) + 1``).
    """
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if len(r) == 4:
        x, y, w, h = r
        return x + w / 2, y + h / 2, w, h
    xs, ys = r[0::2], r[1::2]
    x1, x2, y1, y2 = xs.min(), xs.max(), ys.min(), ys.max()
    side_a = np.linalg.norm(r[0:2] - r[2:4]) * np.linalg.norm(r[2:4] - r[4:6])
    side_b = (x2 - x1) * (y2 - y1)
    s = np.sqrt(side_a / side_b) if side_b > 0 else 1.0
    return xs.mean(), ys.mean(), s * (x2 - x1) + 1, s * (y2 - y1) + 1


def init_box(region, rule: str = "stmtrack", one_pass: bool = False) -> tuple:
    """The (x, y, w, h) a tracker is (re-)initialised with, from a ground-truth region.

    * ``"stmtrack"`` (default, the authors' testers, STMTRACK_SPEC.md §4): one-pass benchmarks
      pass the ground-truth line unchanged; the VOT tester takes ``get_axis_aligned_bbox`` and
      then ``cxy_wh_2_rect``, i.e. ``x = cx - w/2`` (rectangles come out unchanged).
    * ``"pysot"`` (STVIR/pysot ``tools/test.py``): ``get_axis_aligned_bbox`` then
      ``x = cx - (w - 1)/2``, for every dataset (a rectangle moves by +0.5 px).
    """
    if rule not in INIT_RULES:
        raise ValueError(f"unknown init rule {rule!r}; choose from {', '.join(INIT_RULES)}")
    r = np.asarray(region, dtype=np.float64).reshape(-1)
    if rule == "stmtrack" and one_pass:
        if len(r) != 4:
            raise ValueError(f"one-pass ground truth must be x,y,w,h, got {len(r)} values")
        return tuple(float(v) for v in r)
    cx, cy, w, h = axis_aligned_centre_size(r)
    if rule == "stmtrack":
        return (float(cx - w / 2), float(cy - h / 2), float(w), float(h))
    return (float(cx - (w - 1) / 2), float(cy - (h - 1) / 2), float(w), float(h))


def pysot_init_box(region) -> tuple:
    """Initial box of pysot's ``tools/test.py`` (``init_box(region, "pysot")``)."""
    return init_box(region, "pysot")


def run_reset(tracker: Tracker, frames: Sequence[str], regions, init_boxes, skip: int = 5,
              on_frame: Optional[FrameCallback] = None) -> ResetRecord:
    """Reset-based (supervised) run: 1 = init, 2 = failure, 0 = skipped, else a box.

    ``regions`` (N, 4 or 8) is the ground truth used for the overlap test (against the frame's
    bounds); ``init_boxes`` (N, 4) are the boxes the tracker is (re-)initialised with. After a
    failure at frame f the tracker is re-initialised at frame ``f + skip``.
    """
    regions = np.asarray(regions, dtype=np.float64)
    init_boxes = np.asarray(init_boxes, dtype=np.float64).reshape(-1, 4)
    n = len(frames)
    if len(regions) != n or len(init_boxes) != n:
        raise ValueError(f"{n} frames but {len(regions)} regions / {len(init_boxes)} init boxes")
    entries: List = []
    times = np.full(n, np.nan)
    scores = np.full(n, np.nan)
    restart = 0
    for f, path in enumerate(frames):
        if f < restart:
            entries.append(SKIPPED)
            if on_frame is not None:
                on_frame(f, float("nan"), False)
            continue
        image = read_image_bgr(path)
        start = time.perf_counter()
        initializing = f == restart
        if initializing:
            tracker.initialize(image, init_boxes[f].copy())
            entries.append(INIT)
            scores[f] = 1.0
        else:
            out = tracker.track(image)
            box = _as_box(out.box)
            scores[f] = float(out.score)
            if region_overlap(box, regions[f], (image.shape[1], image.shape[0])) > 0:
                entries.append(box)
            else:
                entries.append(FAILURE)
                restart = f + skip
        times[f] = time.perf_counter() - start
        if on_frame is not None:
            on_frame(f, times[f], initializing)
    return ResetRecord(tuple(entries), times, scores)
