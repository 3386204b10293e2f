"""Checks on what callers hand the tracker: frames and boxes (clear errors, documented fixes).

Accepted frames are ``numpy`` arrays of dtype uint8:

* HxWx3 (BGR, as ``cv2.imread`` returns): used as is;
* HxW or HxWx1 (grayscale): the channel is repeated three times, which is what
  ``cv2.imread(path, cv2.IMREAD_COLOR)`` does with a grayscale file;
* non-contiguous views (e.g. ``frame[:, ::-1]``): copied to a contiguous array.

Refused, with a ValueError/TypeError that names the problem: other dtypes (uint16, float, ...:
the tracker will not guess a scaling), 4-channel frames (RGBA/BGRA: drop the alpha channel
with ``cv2.cvtColor``), other shapes, empty frames.

Boxes are ``[x, y, w, h]`` (0-based, floats); refused when not 4 finite numbers, when w or h is
<= 0 or below :data:`MIN_BOX_SIZE` pixels, when w or h is more than :data:`MAX_BOX_SCALE` times
the frame's width or height (such boxes overflow the crop arithmetic: 1e6, 1e20, 1e39, ...),
or when the box does not overlap the image (so ``|x|`` and ``|y|`` are bounded too).
"""
from __future__ import annotations

from typing import Tuple

import numpy as np

#: largest accepted init box side, as a multiple of the frame's side (the tracker clamps its
#: boxes to the frame after the first frame anyway)
MAX_BOX_SCALE = 16
#: smallest accepted init box side in pixels (smaller sides underflow the float32 crop scale)
MIN_BOX_SIZE = 1e-3


def check_frame(image) -> np.ndarray:
    """Return ``image`` as a C-contiguous HxWx3 uint8 array, or raise naming the problem."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"frame must be a numpy array (HxWx3 uint8 BGR), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"frame must be uint8 (HxWx3 BGR), got dtype {image.dtype}; convert it "
                        "yourself (e.g. 16-bit: (frame >> 8).astype(np.uint8))")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        hint = " (RGBA/BGRA? drop the alpha channel, e.g. cv2.cvtColor(f, cv2.COLOR_BGRA2BGR))" \
            if image.ndim == 3 and image.shape[2] == 4 else ""
        raise ValueError(f"frame must be HxWx3 (BGR), got shape {image.shape}{hint}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"frame is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


def check_box(box, image_wh: Tuple[int, int]) -> np.ndarray:
    """Return ``box`` as a float64 ``[x, y, w, h]`` array, or raise naming the problem."""
    try:
        arr = np.asarray(box, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"box must be 4 numbers [x, y, w, h], got {box!r}") from None
    if arr.size != 4:
        raise ValueError(f"box must be 4 numbers [x, y, w, h], got {arr.size}: {box!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"box has a NaN or infinite value: {arr.tolist()}")
    x, y, w, h = arr
    if w <= 0 or h <= 0:
        raise ValueError(f"box width and height must be > 0, got w={w}, h={h}")
    if w < MIN_BOX_SIZE or h < MIN_BOX_SIZE:
        raise ValueError(f"box width and height must be >= {MIN_BOX_SIZE} pixels, got w={w}, h={h}")
    width, height = image_wh
    if w > MAX_BOX_SCALE * width or h > MAX_BOX_SCALE * height:
        raise ValueError(f"box {arr.tolist()} is too large for the {width}x{height} frame (w and "
                         f"h may be at most {MAX_BOX_SCALE} times the frame's width and height)")
    if x + w <= 0 or y + h <= 0 or x >= width or y >= height:
        raise ValueError(f"box {arr.tolist()} does not overlap the {width}x{height} frame")
    return arr
