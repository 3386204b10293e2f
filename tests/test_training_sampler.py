"""Frame sampling (intended vs the authors' bug), negative pairs, still images, box filter."""
import numpy as np

from stmtrack_plugin.training.datasets.base import make_record
from stmtrack_plugin.training.sampler import PairSampler, box_is_reasonable, sample_frame_indices


def _anchor_ok(frames, max_gap):
    """Some frame has every other frame within max_gap of it and different from it."""
    return any(all(0 < abs(f - a) <= max_gap for k, f in enumerate(frames) if k != i)
               for i, a in enumerate(frames))


def test_intended_sampling_respects_gap_and_visibility():
    rng = np.random.default_rng(0)
    visible = np.delete(np.arange(200), [10, 11, 12])
    for _ in range(500):
        memory, query = sample_frame_indices(visible, rng, 3, 5)
        frames = memory + [query]
        assert len(memory) == 3 and len(set(memory)) == 3
        assert _anchor_ok(frames, 5)
        assert not set(frames) & {10, 11, 12}


def test_authors_bug_has_no_upper_bound_and_may_repeat_the_anchor():
    rng = np.random.default_rng(1)
    visible = np.arange(200)
    far = repeated = 0
    for _ in range(300):
        memory, query = sample_frame_indices(visible, rng, 3, 5, authors_bug=True)
        frames = memory + [query]
        far += max(frames) - min(frames) > 10
        repeated += len(set(frames)) < 4
    assert far > 100 and repeated > 0


def test_short_records_repeat_frames():
    memory, query = sample_frame_indices(np.array([4]), np.random.default_rng(0), 3, 50)
    assert memory == [4, 4, 4] and query == 4


def _video(name, n=30):
    boxes = np.tile([10.0, 10.0, 20.0, 20.0], (n, 1))
    return make_record(name, "/x", [f"{i}.jpg" for i in range(n)], boxes)


def test_pair_sampler_negatives_and_still_images():
    videos = [_video("a"), _video("b"), _video("c")]
    images = [make_record(f"img{i}", "/x", [f"{i}.jpg"], [[1, 1, 5, 5]], is_image=True)
              for i in range(3)]
    sampler = PairSampler([videos, images], [1.0, 1.0], negative_ratio=0.33)
    rng = np.random.default_rng(0)
    specs = [sampler.sample(rng) for _ in range(600)]
    negatives = [s for s in specs if s.negative]
    assert 0.25 < len(negatives) / len(specs) < 0.41
    for s in specs:
        mem_records = {id(r) for r, _ in s.memory}
        assert len(mem_records) == 1 and len(s.memory) == 3
        assert (id(s.query[0]) in mem_records) != s.negative
        if s.query[0].is_image and not s.negative:
            assert {i for _, i in s.memory} == {0} and s.query[1] == 0
    assert sum(s.query[0].is_image for s in specs) > 200  # both datasets are used


def test_ratio_weights_datasets():
    sampler = PairSampler([[_video("a")], [_video("b")]], [3.0, 1.0], negative_ratio=0.0)
    rng = np.random.default_rng(0)
    share = np.mean([sampler.sample(rng).query[0].name == "a" for _ in range(2000)])
    assert 0.7 < share < 0.8


def test_box_filter():
    assert box_is_reasonable([0, 0, 50, 50], (240, 320))
    assert not box_is_reasonable([0, 0, 100, 9], (240, 320))  # aspect ratio >= 10
    assert not box_is_reasonable([0, 0, 2, 2], (240, 320))  # area rate 5e-5 < 0.001
    assert box_is_reasonable([0, 0, 2, 2], (240, 320), authors_bug=True)  # limits not enforced
    assert not box_is_reasonable([0, 0, 300, 200], (240, 320))  # area rate > 0.6
    assert not box_is_reasonable([0, 0, 0, 5], (240, 320), authors_bug=True)
