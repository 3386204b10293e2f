"""Protocols, result layouts and the resumable runner, on short real clips."""
import os

import numpy as np
import pytest

from stmtrack_plugin.adapters.layouts import BaselineLayout, OPELayout, read_reset_file
from stmtrack_plugin.adapters.protocols import (init_box, pysot_init_box, region_overlap, run_ope,
                                                run_reset)
from stmtrack_plugin.adapters.runner import Job, run_jobs
from stmtrack_plugin.utils.sequences import load_otb_sequence
from toolkit_helpers import (ShiftingTracker, TemplateTracker, make_crashing_tracker,
                             make_template_tracker)


@pytest.fixture(scope="module")
def crossing(sequences_dir):
    seq = load_otb_sequence(str(sequences_dir / "Crossing"))
    return tuple(seq.frames[:20]), seq.groundtruth[:20] - [1, 1, 0, 0]


@pytest.fixture(scope="module")
def bag(sequences_dir):
    seq = load_otb_sequence(str(sequences_dir / "bag"))
    return tuple(seq.frames[:12]), seq.groundtruth[:12]


def test_region_overlap_rectangles_polygons_and_bounds():
    assert region_overlap([0, 0, 10, 10], [0, 0, 10, 10]) == pytest.approx(1.0)
    assert region_overlap([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    poly = [0, 0, 10, 0, 10, 10, 0, 10]
    assert region_overlap([0, 0, 10, 10], poly) == pytest.approx(1.0)
    # outside the image: zero overlap once clipped, even though the boxes coincide
    assert region_overlap([200, 0, 10, 10], [200, 0, 10, 10], bound=(100, 100)) == 0.0
    assert region_overlap([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0
    assert region_overlap([np.nan, 0, 10, 10], [0, 0, 10, 10]) == 0.0


def test_pysot_init_box_rectangle_and_axis_aligned_polygon():
    # rectangle: centre x + w/2, start at cx - (w-1)/2 -> x + 0.5
    assert pysot_init_box([10, 20, 30, 40]) == pytest.approx((10.5, 20.5, 30, 40))
    # an axis-aligned polygon keeps its area; size grows by 1 (pysot's +1)
    box = pysot_init_box([10, 20, 40, 20, 40, 60, 10, 60])
    assert box == pytest.approx((10.0, 20.0, 31.0, 41.0))


def test_authors_init_rule():
    # one-pass: the ground-truth line unchanged; VOT rectangle: unchanged too (x = cx - w/2)
    assert init_box([10, 20, 30, 40], one_pass=True) == (10, 20, 30, 40)
    assert init_box([10, 20, 30, 40]) == pytest.approx((10, 20, 30, 40))
    # polygon: area-preserving size (+1) centred at the mean point, x = cx - w/2
    assert init_box([10, 20, 40, 20, 40, 60, 10, 60]) == pytest.approx((9.5, 19.5, 31.0, 41.0))
    # a rotated square (diagonal 20): area 200 of a 400 extent -> s = 1/sqrt(2)
    box = init_box([10, 0, 20, 10, 10, 20, 0, 10])
    side = 20 / 2 ** 0.5 + 1
    assert box == pytest.approx((10 - side / 2, 10 - side / 2, side, side))
    with pytest.raises(ValueError, match="init rule"):
        init_box([1, 2, 3, 4], rule="nope")


def test_run_ope_records_init_box_and_tracks(crossing):
    frames, gt = crossing
    rec = run_ope(TemplateTracker(), frames, gt[0])
    assert rec.boxes.shape == (20, 4) and np.allclose(rec.boxes[0], gt[0])
    assert np.all(rec.times > 0)
    ious = [region_overlap(b, g) for b, g in zip(rec.boxes, gt)]
    assert np.mean(ious) > 0.4  # a sane tracker on a real clip


def test_run_reset_codes_and_reinit_five_frames_later(bag):
    frames, gt = bag
    rec = run_reset(ShiftingTracker(step=200.0), frames, gt, gt, skip=5)
    # frame 0 init; frame 1 the box left the target -> 2; 2..5 skipped; 6 re-init; 7 fails ...
    assert rec.entries[:8] == (1, 2, 0, 0, 0, 0, 1, 2)
    assert rec.failures == 2
    assert np.isnan(rec.times[2]) and rec.times[0] > 0


def test_runner_resumes_and_writes_atomically(tmp_path, crossing, bag):
    layout = OPELayout(str(tmp_path / "res"))
    jobs = [Job("Crossing", crossing[0], crossing[1], layout),
            Job("bag", bag[0], bag[1], layout)]
    s1 = run_jobs(make_template_tracker, jobs, progress=False)
    assert sorted(s1.finished) == ["Crossing", "bag"] and s1.ok
    first = open(layout.result_file("bag")).read()
    os.remove(layout.result_file("Crossing"))
    s2 = run_jobs(make_template_tracker, jobs, progress=False)
    assert s2.finished == ["Crossing"] and s2.skipped == ["bag"]
    assert open(layout.result_file("bag")).read() == first
    assert os.path.isfile(layout.time_file("bag"))
    assert not [n for n in os.listdir(layout.root) if n.startswith(".tmp")]


def test_runner_reports_a_crash_and_keeps_the_other_sequences(tmp_path, crossing, bag):
    layout = OPELayout(str(tmp_path / "res"))
    jobs = [Job("bag", bag[0], bag[1], layout), Job("Crossing", crossing[0], crossing[1], layout)]
    summary = run_jobs(make_crashing_tracker, jobs, progress=False)
    assert summary.finished == ["Crossing"]
    assert "simulated tracker crash" in summary.failed["bag"]
    assert not os.path.exists(layout.result_file("bag"))
    assert "1 failed: bag" in summary.describe()


def test_runner_with_worker_processes(tmp_path, crossing, bag):
    out = str(tmp_path / "res")
    jobs = [Job("Crossing", crossing[0], crossing[1], OPELayout(out)),
            Job("bag", bag[0], bag[1], BaselineLayout(out), protocol="reset")]
    summary = run_jobs(make_template_tracker, jobs, workers=2, progress=False)
    assert summary.ok and sorted(summary.finished) == ["Crossing", "bag"]
    direct = run_ope(TemplateTracker(), crossing[0], crossing[1][0])
    written = np.loadtxt(os.path.join(out, "Crossing.txt"), delimiter=",")
    assert np.allclose(written, direct.boxes, atol=1e-4)
    entries = read_reset_file(os.path.join(out, "baseline", "bag", "bag_001.txt"))
    assert entries[0] == 1 and len(entries) == 12
