"""SiamFC++-style score and box post-processing (pure numpy; STMTRACK_SPEC.md §2.8).

Dtypes follow the authors' code under NumPy >= 2 promotion (NEP 50), which is how the parity
fixtures were produced: the network outputs and the tracker state are float32 and stay float32;
only the windowed score becomes float64 (the Hanning window is float64). Casts are explicit so
that NumPy 1.x gives the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

F32 = np.float32


def cosine_window(score_size: int) -> np.ndarray:
    """Flattened outer product of two Hanning windows, (score_size**2,) float64, row-major."""
    return np.outer(np.hanning(score_size), np.hanning(score_size)).reshape(-1)


def _change(r: np.ndarray) -> np.ndarray:
    return np.maximum(r, F32(1.0) / r)


def _padded_size(w, h):
    pad = (w + h) * F32(0.5)
    return np.sqrt((w + pad) * (h + pad))


@dataclass(frozen=True)
class Choice:
    """The chosen score-map cell and the values the box update and the memory gate need."""

    index: int  # cell k = score_size * i + j
    pscore: float  # windowed, penalised score at ``index`` (what the confidence gate reads)
    penalty: np.float32  # scale/ratio penalty at ``index``
    score: np.float32  # raw model score at ``index``


def choose_cell(score: np.ndarray, boxes_cxywh: np.ndarray, target_sz: np.ndarray,
                crop_scale: float, window: np.ndarray, penalty_k: float,
                window_influence: float) -> Choice:
    """Penalise size/ratio changes, blend with the window, take the first maximum.

    Args:
        score: (K,) float32 raw scores.
        boxes_cxywh: (K, 4) float32 predicted boxes, cxywh in crop pixels.
        target_sz: (2,) float32 previous (w, h) in frame pixels.
        crop_scale: the query crop's scale (crop pixels per frame pixel).
        window: (K,) float64 cosine window.
    """
    score = np.asarray(score, dtype=F32)
    w, h = boxes_cxywh[:, 2], boxes_cxywh[:, 3]
    tsz = np.asarray(target_sz, dtype=F32) * F32(crop_scale)
    s_c = _change(_padded_size(w, h) / _padded_size(tsz[0], tsz[1]))
    r_c = _change((tsz[0] / tsz[1]) / (w / h))
    penalty = np.exp(-(r_c * s_c - F32(1)) * F32(penalty_k))
    pscore = (penalty * score) * F32(1 - window_influence) + window * window_influence
    best = int(np.argmax(pscore))
    return Choice(best, float(pscore[best]), penalty[best], score[best])


def update_box(choice: Choice, boxes_cxywh: np.ndarray, target_pos: np.ndarray,
               target_sz: np.ndarray, crop_scale: float, crop_size: int,
               test_lr: float) -> Tuple[np.ndarray, np.ndarray]:
    """New (cx, cy) and (w, h) in frame pixels (float32), before clamping.

    The position jumps to the chosen box; the size moves by ``lr = penalty * score * test_lr``.
    """
    pred = boxes_cxywh[choice.index] / F32(crop_scale)
    lr = choice.penalty * choice.score * F32(test_lr)
    shift = F32((crop_size // 2) / crop_scale)
    pos = np.array([pred[0] + target_pos[0] - shift, pred[1] + target_pos[1] - shift], dtype=F32)
    keep = F32(1) - lr
    size = np.array([target_sz[0] * keep + pred[2] * lr, target_sz[1] * keep + pred[3] * lr],
                    dtype=F32)
    return pos, size


def clamp_box(pos: np.ndarray, size: np.ndarray, image_wh: Tuple[int, int], min_w: float,
              min_h: float) -> Tuple[np.ndarray, np.ndarray]:
    """Centre into [0, W] x [0, H] (not W - 1) and size into [min_w, W] x [min_h, H]."""
    width, height = image_wh
    pos = np.array([max(0, min(width, pos[0])), max(0, min(height, pos[1]))], dtype=F32)
    size = np.array([max(min_w, min(width, size[0])), max(min_h, min(height, size[1]))],
                    dtype=F32)
    return pos, size
