"""STMTrack behind pysot's tracker interface, and pysot's ``tools/test.py`` loop over a Video.

pysot's interface (STVIR/pysot ``pysot/tracker/base_tracker.py``):

* ``init(img, bbox)``: ``img`` an HxWx3 uint8 **BGR** array, ``bbox = [x, y, w, h]`` 0-based;
* ``track(img) -> {'bbox': [x, y, w, h], 'best_score': float}``.

:class:`PysotTracker` adapts any tracker with our interface (``initialize(image_bgr, box)``,
``track(image_bgr) -> .box, .score``; :mod:`factory`) to it. :class:`PysotSpec` is the picklable
recipe the runner builds it from (with the wrapped :class:`factory.TrackerSpec`'s provenance).

:func:`run_test_loop` is ``tools/test.py``'s per-video loop, driving the pysot interface over a
pysot ``Video`` (iterating it yields ``(img, gt_bbox)``, images read with ``cv2.imread``):

* one-pass datasets: ``init`` on frame 0, ``track`` on every later frame;
* reset datasets (VOT2016/2018/2019): a 4-value ground truth becomes the polygon
  ``[x, y, x, y+h-1, x+w-1, y+h-1, x+w-1, y]``; the tracker is initialised when
  ``idx == frame_counter`` (code ``1``); a prediction with zero overlap with the ground truth
  inside the image (``vot_overlap``; here :func:`protocols.region_overlap`) is a failure (code
  ``2``) and sets ``frame_counter = idx + 5``; frames before it are ``0``.

The initial box follows ``init_rule`` (:func:`protocols.init_box`): ``"stmtrack"`` (the authors'
testers: the ground-truth line) or ``"pysot"`` (exactly test.py: ``get_axis_aligned_bbox`` of the
(VOT: polygon) ground truth, then ``[cx-(w-1)/2, cy-(h-1)/2, w, h]``). The loop returns our :class:`protocols.OPERecord` / ``ResetRecord``, written by
:mod:`layouts` in pysot's file layout.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from stmtrack_plugin.adapters.factory import TrackerSpec
from stmtrack_plugin.adapters.protocols import (FAILURE, INIT, SKIPPED, FrameCallback,
                                                OPERecord, ResetRecord, init_box,
                                                region_overlap)


class PysotTracker:
    """pysot's ``init`` / ``track`` on top of a tracker with our interface (BGR, 0-based xywh)."""

    def __init__(self, tracker):
        self.tracker = tracker

    def init(self, img: np.ndarray, bbox) -> None:
        box = np.asarray(bbox, dtype=np.float64).reshape(-1)
        if box.shape != (4,):
            raise ValueError(f"init bbox must be [x, y, w, h], got {len(box)} values")
        self.tracker.initialize(img, box.copy())

    def track(self, img: np.ndarray) -> dict:
        out = self.tracker.track(img)
        return {"bbox": [float(v) for v in out.box], "best_score": float(out.score)}


@dataclass(frozen=True)
class PysotSpec:
    """Picklable recipe of a :class:`PysotTracker` around ``spec``'s tracker."""

    spec: TrackerSpec = TrackerSpec()

    def __call__(self) -> PysotTracker:
        return PysotTracker(self.spec.build())

    def provenance(self) -> dict:
        return self.spec.provenance()


def vot_region(gt_bbox) -> np.ndarray:
    """test.py's VOT ground truth: an 8-value polygon as is; ``x,y,w,h`` as the polygon of its
    corner pixels ``[x, y, x, y+h-1, x+w-1, y+h-1, x+w-1, y]``."""
    r = np.asarray(gt_bbox, dtype=np.float64).reshape(-1)
    if len(r) == 4:
        x, y, w, h = r
        return np.array([x, y, x, y + h - 1, x + w - 1, y + h - 1, x + w - 1, y])
    return r


def _image(video, idx: int, img) -> np.ndarray:
    if img is None:  # cv2.imread gives None for a missing or unreadable file
        names = getattr(video, "img_names", None)
        where = names[idx] if names is not None and idx < len(names) else f"frame {idx}"
        raise FileNotFoundError(f"video {video.name!r}: cannot read image {where}")
    return img


def _box(out) -> tuple:
    box = np.asarray(out["bbox"], dtype=np.float64).reshape(-1)
    if box.shape != (4,):
        raise ValueError(f"track() returned a bbox with {len(box)} values, expected x, y, w, h")
    return tuple(float(v) for v in box)


def run_test_loop(tracker, video, reset: bool, init_rule: str = "stmtrack", skip: int = 5,
                  on_frame: Optional[FrameCallback] = None):
    """Drive a pysot-interface ``tracker`` over a pysot ``Video`` the way ``tools/test.py`` does.

    Returns an :class:`OPERecord` ((N, 4) boxes, row 0 the init box) or, with ``reset``, a
    :class:`ResetRecord` (``1`` / ``2`` / ``0`` codes or boxes). ``times[f]`` is the seconds of
    the ``init`` / ``track`` call (NaN for skipped frames).
    """
    n = len(video)
    if n == 0:
        raise ValueError(f"video {video.name!r} has no frames")
    times, scores = np.full(n, np.nan), np.full(n, np.nan)
    boxes, entries = np.zeros((n, 4)), []
    frame_counter = 0
    for idx, (img, gt_bbox) in enumerate(video):
        region = vot_region(gt_bbox) if reset else np.asarray(gt_bbox, dtype=np.float64)
        if reset and idx < frame_counter:
            entries.append(SKIPPED)
            if on_frame is not None:
                on_frame(idx, float("nan"), False)
            continue
        img = _image(video, idx, img)
        start = time.perf_counter()
        initializing = idx == frame_counter
        if initializing:
            # pysot's rule starts from test.py's polygon; the authors' from the dataset's line
            source = region if init_rule == "pysot" else gt_bbox
            box = init_box(source, init_rule, one_pass=not reset)
            tracker.init(img, list(box))
            boxes[idx], scores[idx] = box, 1.0
            entries.append(INIT)
        else:
            out = tracker.track(img)
            boxes[idx], scores[idx] = _box(out), float(out["best_score"])
            if reset:
                if region_overlap(boxes[idx], region, (img.shape[1], img.shape[0])) > 0:
                    entries.append(tuple(boxes[idx]))
                else:
                    entries.append(FAILURE)
                    frame_counter = idx + skip
        times[idx] = time.perf_counter() - start
        if on_frame is not None:
            on_frame(idx, times[idx], initializing)
    if reset:
        return ResetRecord(tuple(entries), times, scores)
    return OPERecord(boxes, times, scores)
