"""Per-frame crop augmentation and fg/bg label maps (the authors' ``RandomCropTransformer``).

Frames are HxWx3 uint8 BGR arrays; boxes are xywh in frame pixels with the authors' "+1"
convention (x2 = x + w - 1). Crops are square, ``out`` pixels wide, and boxes returned in crop
pixels are xyxy.
"""
from __future__ import annotations

import math
from typing import Tuple

import cv2
import numpy as np


def random_crop_window(box_xywh, image_hw, rng: np.random.Generator, search_factor: float = 4.0,
                       scale_jitter: float = 1.3, shift_jitter: float = 0.4) -> Tuple[float, float, int]:
    """Jittered square crop window ``(x0, y0, side)`` in frame pixels.

    side = ceil(sqrt(w*h) * search_factor * U(1/scale_jitter, scale_jitter)); the box centre is
    shifted by U(-shift_jitter, shift_jitter) * side / 2 on each axis; then the window is moved
    to lie inside the image where it fits (where it does not, it covers the whole image axis).
    """
    x, y, w, h = (float(v) for v in box_xywh)
    factor = search_factor * rng.uniform(1.0 / scale_jitter, scale_jitter)
    side = max(int(math.ceil(math.sqrt(w * h) * factor)), 1)
    cx = x + (w - 1) / 2 + rng.uniform(-shift_jitter, shift_jitter) * side / 2
    cy = y + (h - 1) / 2 + rng.uniform(-shift_jitter, shift_jitter) * side / 2
    height, width = image_hw[:2]
    x0 = _clamp_inside(cx - side / 2, side, width)
    y0 = _clamp_inside(cy - side / 2, side, height)
    return x0, y0, side


def _clamp_inside(start: float, side: float, length: float) -> float:
    lo, hi = sorted((0.0, length - side))
    return min(max(start, lo), hi)


def crop_resize(image: np.ndarray, x0: float, y0: float, side: float, out: int,
                pad_color=None) -> np.ndarray:
    """Warp the frame window ``[x0, x0+side) x [y0, y0+side)`` to ``out x out`` (bilinear).

    Outside the frame the crop is filled with ``pad_color`` (default: the frame's mean colour).
    """
    if pad_color is None:
        pad_color = tuple(float(c) for c in image.reshape(-1, image.shape[2]).mean(axis=0))
    s = out / side
    matrix = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64)
    return cv2.warpAffine(image, matrix, (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=pad_color)


def box_to_crop(box_xywh, x0: float, y0: float, side: float, out: int) -> np.ndarray:
    """Frame xywh box -> crop xyxy (float32), with x2 = x + w - 1 before scaling."""
    x, y, w, h = (float(v) for v in box_xywh)
    s = out / side
    return np.array([(x - x0) * s, (y - y0) * s, (x + w - 1 - x0) * s, (y + h - 1 - y0) * s],
                    dtype=np.float32)


def random_crop(image: np.ndarray, box_xywh, rng: np.random.Generator, out: int,
                search_factor: float = 4.0, scale_jitter: float = 1.3,
                shift_jitter: float = 0.4) -> Tuple[np.ndarray, np.ndarray]:
    """Jittered crop of one frame: ``(crop HxWx3 uint8 BGR, box xyxy in crop pixels)``."""
    x0, y0, side = random_crop_window(box_xywh, image.shape, rng, search_factor, scale_jitter,
                                      shift_jitter)
    return crop_resize(image, x0, y0, side, out), box_to_crop(box_xywh, x0, y0, side, out)


def fg_bg_label_map(box_xyxy, size: int) -> np.ndarray:
    """(size, size) float32 map: 1 on rows int(y1)..int(y2) and columns int(x1)..int(x2), else 0.

    Coordinates are truncated toward zero as in the authors' code and clipped to the map.
    """
    x1, y1, x2, y2 = (int(v) for v in box_xyxy)
    label = np.zeros((size, size), dtype=np.float32)
    label[max(y1, 0):max(y2 + 1, 0), max(x1, 0):max(x2 + 1, 0)] = 1.0
    return label
