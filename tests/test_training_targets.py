"""Dense FCOS-style targets on the score grid and the fg/bg label map."""
import math

import numpy as np
import pytest

from stmtrack_plugin.model.geometry import score_offset, score_size
from stmtrack_plugin.model.head import grid_centres
from stmtrack_plugin.training.targets import make_densebox_target
from stmtrack_plugin.training.transforms import fg_bg_label_map


def test_grid_matches_model_geometry():
    size = score_size(129)
    offset = score_offset(129, size, 8)
    assert (size, offset) == (5, 48)
    xs, ys = grid_centres(size, offset, 8)[0].numpy().T
    assert xs[:5].tolist() == [48, 56, 64, 72, 80] and ys[:5].tolist() == [48] * 5
    assert (xs[7], ys[7]) == (64, 56)  # k = size * i + j with i = 1, j = 2
    assert score_offset(289, score_size(289), 8) == 48 and score_size(289) == 25


def test_positive_targets_hand_computed():
    cls, ctr, box = make_densebox_target([50, 50, 70, 62], 5, 48, 8)
    assert cls.shape == (25, 1) and ctr.shape == (25, 1) and box.shape == (25, 4)
    assert np.flatnonzero(cls[:, 0]).tolist() == [6, 7]  # centres (56, 56) and (64, 56)
    expected = math.sqrt(6 / (14 + 1e-5) * 6 / (6 + 1e-5))
    assert ctr[6, 0] == pytest.approx(expected, rel=1e-5) and ctr[7, 0] == pytest.approx(expected)
    assert (ctr[cls[:, 0] == 0] == 0).all()
    assert (box == np.array([50, 50, 70, 62], np.float32)).all()


def test_border_points_are_not_positive():
    cls, _, _ = make_densebox_target([48, 48, 56, 56], 5, 48, 8)  # strict l, t, r, b > 0
    assert cls.sum() == 0


def test_negative_pair_labels():
    cls, ctr, _ = make_densebox_target([50, 50, 70, 62], 5, 48, 8, negative=True)
    assert cls[6, 0] == 0 and cls[7, 0] == 0
    assert (np.delete(cls[:, 0], [6, 7]) == -1).all()
    assert ctr[6, 0] > 0  # still computed: used only under the authors' centerness bug


def test_fg_bg_label_map_truncates_like_the_authors():
    label = fg_bg_label_map([1.7, 2.2, 4.9, 3.0], 8)
    rows, cols = np.nonzero(label)
    assert sorted(set(rows)) == [2, 3] and sorted(set(cols)) == [1, 2, 3, 4]
    assert label.dtype == np.float32 and label.sum() == 8
    clipped = fg_bg_label_map([-3.5, -1, 20, 5], 8)  # clipped, no negative-index wrap
    assert clipped[:6].all() and not clipped[6:].any()
