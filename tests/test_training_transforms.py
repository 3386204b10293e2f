"""Crop jitter: the crop shows the box where box_to_crop says, windows stay inside the frame."""
import numpy as np
import pytest

from stmtrack_plugin.training.transforms import (box_to_crop, crop_resize, random_crop,
                                                 random_crop_window)


def _frame_with_box(box, hw=(240, 320)):
    image = np.zeros(hw + (3,), np.uint8)
    image[:] = (40, 80, 120)
    x, y, w, h = box
    image[y:y + h, x:x + w] = 255
    return image


def test_box_lands_where_the_crop_shows_it():
    box = (100, 60, 40, 30)
    image = _frame_with_box(box)
    rng = np.random.default_rng(3)
    for _ in range(20):
        crop, xyxy = random_crop(image, box, rng, 129)
        assert crop.shape == (129, 129, 3) and crop.dtype == np.uint8
        white = np.argwhere(crop[..., 0] > 200)
        (y0, x0), (y1, x1) = white.min(axis=0), white.max(axis=0)
        assert abs(x0 - xyxy[0]) <= 2 and abs(y0 - xyxy[1]) <= 2
        assert abs(x1 - xyxy[2]) <= 2 and abs(y1 - xyxy[3]) <= 2


def test_window_size_and_shift_follow_the_jitter_ranges():
    rng = np.random.default_rng(0)
    sides = []
    for _ in range(300):
        x0, y0, side = random_crop_window((500, 500, 20, 20), (2000, 2000), rng)
        sides.append(side)
        cx, cy = x0 + side / 2, y0 + side / 2
        assert abs(cx - 509.5) <= 0.4 * side / 2 + 1e-6 and abs(cy - 509.5) <= 0.4 * side / 2 + 1e-6
    assert min(sides) >= np.ceil(80 / 1.3) and max(sides) <= np.ceil(80 * 1.3)
    assert max(sides) - min(sides) > 40


def test_window_is_moved_inside_the_frame():
    rng = np.random.default_rng(0)
    for _ in range(100):
        x0, y0, side = random_crop_window((0, 0, 30, 30), (240, 320), rng)
        assert x0 == 0 and y0 == 0  # a box at the corner: the window is pushed inside
    x0, y0, side = random_crop_window((100, 100, 100, 100), (240, 320), rng, scale_jitter=1.0,
                                      shift_jitter=0.0)
    # wider than the frame: stays centred (cx = 149.5), as it already covers the whole frame
    assert side == 400 and x0 == pytest.approx(-50.5) and y0 == pytest.approx(-50.5)
    x0, y0, side = random_crop_window((250, 180, 60, 50), (240, 320), rng, scale_jitter=1.0,
                                      shift_jitter=0.0)  # side 220: pushed back inside
    assert side == 220 and x0 == pytest.approx(100) and y0 == pytest.approx(20)


def test_padding_uses_the_frame_mean_colour():
    image = _frame_with_box((0, 0, 10, 10), hw=(20, 20))
    crop = crop_resize(image, -20, -20, 60, 30)
    mean = image.reshape(-1, 3).mean(axis=0)
    assert np.abs(crop[0, 0].astype(float) - mean).max() <= 1


def test_box_to_crop_plus_one_convention():
    xyxy = box_to_crop((10, 20, 30, 40), 0, 0, 100, 200)
    assert xyxy.tolist() == [20, 40, 78, 118]  # x2 = x + w - 1, scaled by 2
