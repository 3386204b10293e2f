"""Box conversions with the authors' conventions (0-based, "+1" widths, float32 results).

Formats (all in one frame's pixel coordinates, last axis = 4):

* ``xywh``  : top-left corner x, y and width, height;
* ``cxywh`` : centre cx, cy and width, height, with ``cx = x + (w - 1) / 2``;
* ``xyxy``  : corners x0, y0, x1, y1 with ``w = x1 - x0 + 1``.

Every converter casts its input to float32 first and computes in float32, as the authors'
``videoanalyst/pipeline/utils/bbox.py`` does; the parity fixtures depend on it.
"""
from __future__ import annotations

import numpy as np


def _f32(box) -> np.ndarray:
    return np.array(box, dtype=np.float32)


def xywh_to_cxywh(box) -> np.ndarray:
    b = _f32(box)
    return np.stack([b[..., 0] + (b[..., 2] - 1) / 2, b[..., 1] + (b[..., 3] - 1) / 2,
                     b[..., 2], b[..., 3]], axis=-1)


def cxywh_to_xywh(box) -> np.ndarray:
    b = _f32(box)
    return np.stack([b[..., 0] - (b[..., 2] - 1) / 2, b[..., 1] - (b[..., 3] - 1) / 2,
                     b[..., 2], b[..., 3]], axis=-1)


def cxywh_to_xyxy(box) -> np.ndarray:
    b = _f32(box)
    half_w, half_h = (b[..., 2] - 1) / 2, (b[..., 3] - 1) / 2
    return np.stack([b[..., 0] - half_w, b[..., 1] - half_h,
                     b[..., 0] + half_w, b[..., 1] + half_h], axis=-1)


def xyxy_to_cxywh(box) -> np.ndarray:
    b = _f32(box)
    return np.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2,
                     b[..., 2] - b[..., 0] + 1, b[..., 3] - b[..., 1] + 1], axis=-1)
