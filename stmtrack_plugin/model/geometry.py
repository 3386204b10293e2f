"""Feature-map geometry of the authors' (googlenet) STMTrack network, as pure functions of integers.

Callers that may hold another trunk ask :func:`stmtrack_plugin.model.trunks.score_geometry` (or
``STMTrack.score_geometry``), which uses these functions for the authors' trunk.

Frames of reference: a *crop* is the square network input of side ``crop_size`` pixels; the
*score map* is the ``score_size x score_size`` grid the head predicts on. Cell (i, j) (row i,
column j, flat index ``score_size * i + j``) has its centre at crop pixel
``(offset + stride * j, offset + stride * i)``.
"""
from __future__ import annotations


def trunk_output_size(crop_size: int) -> int:
    """Side of the Mixed_6e output of the truncated Inception-v3 for a square input.

    1a (k3 s2) -> 2a (k3) -> 2b (k3 p1) -> max-pool (k3 s2) -> 3b (1x1) -> 4a (k3) -> Mixed_5x
    -> Mixed_6a (k3 s2) -> Mixed_6b..e. 289 -> 33.
    """
    s = (crop_size - 3) // 2 + 1  # Conv2d_1a_3x3, stride 2
    s = s - 2  # Conv2d_2a_3x3 (Conv2d_2b has padding 1)
    s = (s - 3) // 2 + 1  # max-pool 3x3 stride 2
    s = s - 2  # Conv2d_4a_3x3 (the pool after it is removed)
    return (s - 3) // 2 + 1  # Mixed_6a, stride 2


def score_size(crop_size: int, crop_pad: int = 4) -> int:
    """Side of the feature / score map after the ``crop_pad`` border crop: 289 -> 25."""
    size = trunk_output_size(crop_size) - 2 * crop_pad
    if size < 1:
        raise ValueError(f"crop_size {crop_size} is too small: the feature map would be empty")
    return size


def score_offset(crop_size: int, size: int, total_stride: int = 8) -> int:
    """Crop-pixel coordinate of cell 0's centre: ``(crop - 1 - (size - 1) * stride) // 2`` (48)."""
    return (crop_size - 1 - (size - 1) * total_stride) // 2
