"""Square crops around the target and the memory frames' fg/bg label maps (pure numpy + cv2).

The rule is the authors' ``get_crop_single`` / ``get_crop_numpy`` (STMTRACK_SPEC.md §2.4), the
same for memory and query crops. Frame of reference: the *crop* is an ``out_size x out_size``
patch; crop pixel ``u`` samples frame pixel ``tl + u * szl / (out_size - 1)`` (after the integer
pre-downsampling by ``df``), where ``szl`` is the side of the window in (downsampled) pixels.
"""
from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

from stmtrack_plugin.tracking.boxes import cxywh_to_xyxy


def mean_colour(image: np.ndarray) -> Tuple[float, float, float]:
    """Per-channel mean of an HxWx3 frame (float64), the border colour of every crop."""
    return tuple(float(np.mean(image[..., c])) for c in range(3))


def crop_square(image: np.ndarray, center_xy: Sequence[float], scale: float, out_size: int,
                pad_colour: Sequence[float]) -> Tuple[np.ndarray, float]:
    """Crop a square of side ``scale * out_size`` frame pixels centred on ``center_xy``.

    Args:
        image: HxWx3 uint8 frame (BGR).
        center_xy: (cx, cy) in frame pixels; truncated toward zero with ``int``.
        scale: frame pixels per crop pixel (the tracker's ``target_scale``).
        out_size: side of the returned crop.
        pad_colour: border colour; each channel is truncated with ``int`` as cv2 receives it.
    Returns:
        (crop, crop_scale): crop is out_size x out_size x 3 uint8; crop_scale is the authors'
        ``out_size / ((szl + 1) * df)`` (crop pixels per frame pixel), a float64.

    Steps (SPEC §2.4): ``df = max(int(scale - 0.1), 1)`` integer pre-downsampling by striding;
    ``szl = max(round_half_even(scale * out_size / df), 2)``; window ``[pos - (szl-1)//2,
    pos + szl//2 + 1)``; bilinear ``cv2.warpAffine`` with an inverse map, constant border.
    """
    # (y, x) order and int64 truncation, as the authors' code indexes the array
    pos = np.array([center_xy[1], center_xy[0]]).astype(np.int64)
    out = np.array([out_size, out_size])
    sample_sz = scale * out  # float64 (the window side in frame pixels, per axis)
    resize_factor = float(np.min(sample_sz.astype(np.float64) / out.astype(np.float64)))
    df = int(max(int(resize_factor - 0.1), 1))
    sz = sample_sz.astype(np.float64) / df
    if df > 1:
        offset = pos % df
        pos = (pos - offset) // df
        image = image[int(offset[0])::df, int(offset[1])::df, :]
    szl = np.maximum(np.round(sz), 2.0).astype(np.int64)
    tl = pos - (szl - 1) // 2
    br = pos + szl // 2 + 1
    x0, y0, x1, y1 = tl[1], tl[0], br[1], br[0]
    warp = np.array([(x1 - x0) / (out[0] - 1), 0, x0,
                     0, (y1 - y0) / (out[1] - 1), y0], dtype=np.float64).reshape(2, 3)
    patch = cv2.warpAffine(np.ascontiguousarray(image), warp, (int(out[0]), int(out[1])),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT,
                           borderValue=tuple(int(c) for c in pad_colour))
    crop_scale = out[0] / ((x1 - x0 + 1) * df)
    return patch, float(crop_scale)


def fg_bg_label_map(size_wh: Sequence[float], crop_scale: float, out_size: int) -> np.ndarray:
    """The memory frame's label map: 1 inside the target box, 0 elsewhere.

    The box is centred in the crop, ``((out_size-1)/2, (out_size-1)/2, w*crop_scale,
    h*crop_scale)`` in cxywh crop pixels, converted to xyxy in float32 and truncated with
    ``int``; rows y0..y1 and columns x0..x1 (inclusive) are set. A negative start (aspect ratio
    above ~16) wraps around as Python slicing does, as in the authors' code.

    Args:
        size_wh: (w, h) of the target in frame pixels (float32 tracker state).
        crop_scale: the crop's scale from :func:`crop_square`.
    Returns:
        (out_size, out_size) float32 array.
    """
    size = np.asarray(size_wh, dtype=np.float32) * crop_scale  # float32, as the authors'
    centre = (out_size - 1) / 2
    box = np.concatenate([np.array([centre, centre]), size])
    x0, y0, x1, y1 = cxywh_to_xyxy(box).astype(np.int64)
    label = np.zeros((out_size, out_size), dtype=np.float32)
    label[y0:y1 + 1, x0:x1 + 1] = 1
    return label
