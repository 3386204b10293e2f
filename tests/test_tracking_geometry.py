"""Boxes, crops, label maps and post-processing: the pure pieces of the tracker."""
import numpy as np
import pytest

from stmtrack_plugin.tracking.boxes import cxywh_to_xywh, cxywh_to_xyxy, xywh_to_cxywh, xyxy_to_cxywh
from stmtrack_plugin.tracking.crop import crop_square, fg_bg_label_map, mean_colour
from stmtrack_plugin.tracking.postprocess import Choice, choose_cell, clamp_box, cosine_window, update_box

# (xyxy, xywh, cxywh) triples with the authors' "+1" convention
CASES = [((10, 20, 50, 40), (10, 20, 41, 21), (30, 30, 41, 21)),
         ((40, 60, 45, 75), (40, 60, 6, 16), (42.5, 67.5, 6, 16)),
         ((40, 60, 40, 60), (40, 60, 1, 1), (40, 60, 1, 1))]


@pytest.mark.parametrize("xyxy,xywh,cxywh", CASES)
def test_box_conversions(xyxy, xywh, cxywh):
    np.testing.assert_array_equal(xywh_to_cxywh(xywh), cxywh)
    np.testing.assert_array_equal(cxywh_to_xywh(cxywh), xywh)
    np.testing.assert_array_equal(cxywh_to_xyxy(cxywh), xyxy)
    np.testing.assert_array_equal(xyxy_to_cxywh(xyxy), cxywh)
    assert xywh_to_cxywh(xywh).dtype == np.float32


def test_box_conversions_batch():
    xyxy = np.array([c[0] for c in CASES], dtype=np.float64)
    out = xyxy_to_cxywh(xyxy)
    assert out.shape == (3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, [c[2] for c in CASES])


def _ramp(h=120, w=160):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)


def test_crop_at_unit_scale_is_a_window_of_the_frame():
    img = _ramp()
    crop, scale = crop_square(img, (80.0, 60.0), 32 / 33, 33, (0, 0, 0))
    # s < 1.1: df = 1; szl = round(32) = 32; window starts at 80 - 15 = 65 (x), 60 - 15 = 45 (y)
    assert crop.shape == (33, 33, 3) and crop.dtype == np.uint8
    assert crop[0, 0].tolist() == img[45, 65].tolist()
    assert crop[-1, -1].tolist() == img[45 + 32, 65 + 32].tolist()
    assert scale == 33 / 33  # out / ((szl + 1) * df)


def test_crop_pads_with_the_truncated_mean_colour():
    img = np.full((50, 50, 3), 7, np.uint8)
    crop, _ = crop_square(img, (0.0, 0.0), 2.0, 33, (10.9, 20.2, 30.99))
    assert crop[0, 0].tolist() == [10, 20, 30]  # int() truncation, as cv2 receives it
    assert crop[-1, -1].tolist() == [7, 7, 7]


def test_crop_pre_downsampling_and_scale():
    img = _ramp(400, 400)
    _, scale = crop_square(img, (200.0, 200.0), 2.5, 289, (0, 0, 0))
    # df = int(2.5 - 0.1) = 2; szl = round(2.5 * 289 / 2) = round(361.25) = 361
    assert scale == 289 / (362 * 2)
    _, scale = crop_square(img, (200.0, 200.0), 2.0, 289, (0, 0, 0))
    assert scale == 289 / (579 * 1)  # df = int(1.9) = 1; szl = 578
    # np.round is half-to-even: 0.5 * 289 = 144.5 -> 144
    _, scale = crop_square(img, (200.0, 200.0), 0.5, 289, (0, 0, 0))
    assert scale == 289 / 145


def test_mean_colour_is_per_channel_float64():
    img = np.zeros((2, 2, 3), np.uint8)
    img[0, 0] = (4, 8, 12)
    assert mean_colour(img) == (1.0, 2.0, 3.0)


def test_label_map_matches_the_spec_example():
    # w = 40.3 at crop scale 1 gives columns 124..163 (SPEC §2.5)
    label = fg_bg_label_map((40.3, 20.0), 1.0, 289)
    cols = np.nonzero(label.any(axis=0))[0]
    rows = np.nonzero(label.any(axis=1))[0]
    assert (cols[0], cols[-1]) == (124, 163)
    assert (rows[0], rows[-1]) == (134, 153)  # 144 -/+ 9.5 -> 134.5, 153.5 -> int
    assert label.dtype == np.float32 and set(np.unique(label)) == {0.0, 1.0}


def test_cosine_window():
    w = cosine_window(25)
    assert w.shape == (625,) and w.dtype == np.float64
    assert w[0] == 0 and w.reshape(25, 25)[12, 12] == 1.0


def _candidates():
    k = 9
    boxes = np.tile(np.array([[100, 100, 40, 20]], np.float32), (k, 1))
    boxes[4, 2:] = (80, 10)  # a big change of size and ratio
    score = np.full(k, 0.5, np.float32)
    score[4] = 0.55
    return score, boxes


def test_penalty_outweighs_a_slightly_better_raw_score():
    score, boxes = _candidates()
    choice = choose_cell(score, boxes, np.array([40, 20], np.float32), 1.0, np.zeros(9), 0.5, 0.0)
    assert choice.index == 0  # first maximum among the unpenalised cells
    assert choice.pscore == pytest.approx(0.5)
    choice = choose_cell(score, boxes, np.array([40, 20], np.float32), 1.0, np.zeros(9), 0.0, 0.0)
    assert choice.index == 4  # no penalty: the raw maximum wins


def test_window_pulls_towards_the_centre():
    score, boxes = _candidates()
    window = cosine_window(3)
    choice = choose_cell(np.full(9, 0.5, np.float32), boxes, np.array([40, 20], np.float32), 1.0,
                         window, 0.0, 0.3)
    assert choice.index == 4 and isinstance(choice.pscore, float)


def test_box_update_and_clamp():
    boxes = np.array([[150.0, 140.0, 40.0, 20.0]], np.float32)  # cxywh in crop pixels
    choice = Choice(0, 0.9, np.float32(1.0), np.float32(0.5))
    pos, size = update_box(choice, boxes, np.array([200, 100], np.float32),
                           np.array([20, 40], np.float32), 2.0, 289, test_lr=1.0)
    # centre: 150/2 + 200 - 144/2 = 203; size moves half-way (lr = 0.5) to (20, 10)
    np.testing.assert_array_equal(pos, [203, 98])
    np.testing.assert_array_equal(size, [20, 25])
    assert pos.dtype == size.dtype == np.float32
    pos, size = clamp_box(np.array([-3, 500], np.float32), np.array([2, 900], np.float32),
                          (640, 480), 10, 10)
    np.testing.assert_array_equal(pos, [0, 480])  # into [0, W] x [0, H]
    np.testing.assert_array_equal(size, [10, 480])
