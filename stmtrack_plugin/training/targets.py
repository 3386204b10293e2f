"""FCOS-style dense targets on the score grid (the authors' ``make_densebox_target``).

Grid cell k = size * i + j has its centre at crop pixel (offset + stride * j, offset + stride * i)
(see :mod:`stmtrack_plugin.model.geometry`). For a query box xyxy (crop pixels, x2 = x + w - 1):

* ``cls`` = 1 where l, t, r, b > 0 strictly (l = x - x1, t = y - y1, r = x2 - x, b = y2 - y), else 0;
* ``ctr`` = sqrt(min(l,r)/max(l,r) * min(t,b)/max(t,b)) at those cells, else 0;
* ``box`` = the query box at every cell.

For a negative sample the cells inside the box get cls 0 (hard negatives on the distractor) and
all others -1 (ignored); ``ctr`` is still computed there, which matters only under the authors'
centerness bug.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

from stmtrack_plugin.model.head import grid_centres

IGNORE = -1.0
EPS = 1e-5


def make_densebox_target(box_xyxy, size: int, offset: int, stride: int = 8,
                         negative: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Targets for one query crop: ``cls (K,1)``, ``ctr (K,1)``, ``box (K,4)`` float32, K = size**2."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    xs, ys = grid_centres(size, offset, stride)[0].numpy().T  # (K,) each, as the head decodes
    l, t, r, b = xs - x1, ys - y1, x2 - xs, y2 - ys
    inside = (l > 0) & (t > 0) & (r > 0) & (b > 0)
    ratio_x = np.minimum(l, r) / (np.maximum(l, r) + EPS)
    ratio_y = np.minimum(t, b) / (np.maximum(t, b) + EPS)
    ctr = np.where(inside, np.sqrt(np.clip(ratio_x * ratio_y, 0.0, None)), 0.0)
    if negative:
        cls = np.where(inside, 0.0, IGNORE)
    else:
        cls = inside.astype(np.float64)
    box = np.tile(np.asarray([x1, y1, x2, y2], np.float32), (size * size, 1))
    return (cls.astype(np.float32)[:, None], ctr.astype(np.float32)[:, None], box)
