"""One-pass evaluation (OPE) metrics, as the OTB / LaSOT / got10k toolkits compute them.

All boxes are ``x, y, w, h`` arrays of shape (N, 4) in one frame's pixel coordinates. Centres use
the OTB convention ``c = x + (w - 1) / 2`` (what got10k and pysot do). Frames whose ground truth is
missing (NaN, or w or h <= 0) count as failures for success and precision, like the toolkits,
unless ``valid`` says to drop them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: IoU thresholds of the success plot: 0, 0.05, ..., 1.0 (21 bins, strict ``>``)
IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)
#: centre-error thresholds of the precision plot: 0..50 px (51 bins, ``<=``)
CE_THRESHOLDS = np.arange(0, 51)
#: normalised centre-error thresholds: 0..0.5 (51 bins, LaSOT)
NCE_THRESHOLDS = np.linspace(0.0, 0.5, 51)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of matching rows of two (N, 4) xywh arrays (continuous areas, no +1)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(np.clip(iou, 0.0, 1.0), nan=0.0)


def centers(boxes: np.ndarray) -> np.ndarray:
    """(N, 2) centres ``x + (w - 1) / 2, y + (h - 1) / 2`` of (N, 4) xywh boxes."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + (boxes[:, 2:] - 1) / 2.0


def center_errors(pred: np.ndarray, gt: np.ndarray, normalized: bool = False) -> np.ndarray:
    """Euclidean centre distance per frame; ``normalized`` divides each axis by the gt size."""
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    d = centers(pred) - centers(gt)
    if normalized:
        with np.errstate(invalid="ignore", divide="ignore"):
            d = d / gt[:, 2:]
    err = np.sqrt((d ** 2).sum(axis=1))
    return np.nan_to_num(err, nan=np.inf, posinf=np.inf)


@dataclass(frozen=True)
class OPEResult:
    """Scores of one or several sequences (curves are fractions of frames)."""

    success_curve: np.ndarray  # (21,) fraction of frames with IoU > threshold
    precision_curve: np.ndarray  # (51,) fraction with centre error <= threshold px
    norm_precision_curve: np.ndarray  # (51,) fraction with normalised error <= threshold
    n_frames: int

    @property
    def success_auc(self) -> float:
        return float(self.success_curve.mean())

    @property
    def precision20(self) -> float:
        return float(self.precision_curve[20])

    @property
    def norm_precision(self) -> float:
        """Area under the normalised precision curve (LaSOT's normalised precision)."""
        return float(self.norm_precision_curve.mean())


def ope(pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray] = None) -> OPEResult:
    """Success / precision / normalised precision of predicted boxes against ground truth.

    ``pred`` and ``gt`` are (N, 4) xywh. ``valid`` (N,) bool keeps only those frames (e.g. LaSOT
    frames where the target is visible); by default every frame counts.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction has {len(pred)} boxes but ground truth has {len(gt)}")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool).reshape(-1)
        pred, gt = pred[valid], gt[valid]
    ious = iou_xywh(pred, gt)
    ce = center_errors(pred, gt)
    nce = center_errors(pred, gt, normalized=True)
    n = max(len(gt), 1)
    return OPEResult(
        success_curve=(ious[:, None] > IOU_THRESHOLDS[None]).sum(0) / n,
        precision_curve=(ce[:, None] <= CE_THRESHOLDS[None]).sum(0) / n,
        norm_precision_curve=(nce[:, None] <= NCE_THRESHOLDS[None]).sum(0) / n,
        n_frames=len(gt),
    )


def mean_result(results) -> OPEResult:
    """Average of per-sequence curves (each sequence weighs the same, as in OTB/LaSOT reports)."""
    results = list(results)
    if not results:
        raise ValueError("no sequences to evaluate")
    return OPEResult(
        success_curve=np.mean([r.success_curve for r in results], axis=0),
        precision_curve=np.mean([r.precision_curve for r in results], axis=0),
        norm_precision_curve=np.mean([r.norm_precision_curve for r in results], axis=0),
        n_frames=sum(r.n_frames for r in results),
    )


def tracking_fps(seconds) -> Optional[float]:
    """Tracking speed in frames per second: got10k's mean of ``1 / t`` over the timed frames.

    ``seconds`` holds one entry per frame; entries that are NaN or <= 0 are not timed tracking
    frames and are left out. That is how got10k's reports (and the GOT-10k server) read a time
    file, and how this package writes them: (re-)initialisation frames are NaN, because
    STMTrack's ``initialize`` only stores the frame (< 1 ms; its memory encoding runs, and is
    timed, inside the next ``track``), so a real init time would count as one 1000+ FPS frame.
    Returns None when no frame is timed.
    """
    t = np.asarray(seconds, dtype=np.float64).reshape(-1)
    t = t[np.isfinite(t) & (t > 0)]
    return float(np.mean(1.0 / t)) if len(t) else None
