"""Memory selection (pure policy), the pruning rule derived from it, and the MemoryBank storage."""
import pytest
import torch

from stmtrack_plugin.tracking.memory import (MemoryBank, can_be_selected_later,
                                             oldest_needed_frame, select_memory_indices)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("confident", [False, True])
def test_first_frames_use_everything_without_gate(n, confident):
    assert select_memory_indices(n, 4, confident) == list(range(n))


def test_segment_rule_examples_from_the_spec():
    # n = 5..7: the first segment is frame 0 and is de-duplicated -> T = 4 (+1 when confident)
    assert select_memory_indices(5, 4, False) == [0, 1, 2, 3]
    assert select_memory_indices(5, 4, True) == [4, 0, 1, 2, 3]
    assert select_memory_indices(7, 4, True) == [6, 0, 1, 2, 3]
    # n = 8, confident: frame 7 appears twice (once as "latest", once as the last segment)
    assert select_memory_indices(8, 4, True) == [7, 0, 1, 3, 5, 7]
    assert select_memory_indices(8, 4, False) == [0, 1, 3, 5, 7]
    # the latest frame comes first, then frame 0, then the segment middles in time order
    assert select_memory_indices(100, 4, True) == [99, 0, 12, 37, 62, 87]
    assert select_memory_indices(100, 4, False) == [0, 12, 37, 62, 87]


def test_selection_against_the_authors_one_based_formulation():
    import numpy as np

    for num_segments in (1, 3, 4, 6):
        for n in range(num_segments + 1, 300):
            for confident in (False, True):
                dur = n // num_segments
                idx = np.concatenate([[1], np.arange(num_segments) * dur + dur // 2 + 1])
                if confident:
                    idx = np.append(idx, 0)
                frames = list(range(n))
                expected = [frames[i - 1] for i in np.unique(idx)]
                assert select_memory_indices(n, num_segments, confident) == expected


def test_selection_rejects_empty_memory():
    with pytest.raises(ValueError):
        select_memory_indices(0, 4, True)


@pytest.mark.parametrize("num_segments", [1, 2, 4, 5])
def test_pruning_rule_is_exactly_what_the_selection_can_still_pick(num_segments):
    for n in range(1, 260):
        later = set()
        for m in range(n + 1, 2 * num_segments * (n + 2) + 2):
            later |= set(select_memory_indices(m, num_segments, True))
        expected = {f for f in range(n) if f in later}
        assert {f for f in range(n) if can_be_selected_later(f, n, num_segments)} == expected
        oldest = oldest_needed_frame(n, num_segments)
        assert {f for f in range(1, n) if f >= oldest} == expected - {0}


def test_pruning_never_drops_a_frame_the_next_selection_reads():
    kept = set()
    for n in range(1, 2000):
        kept.add(n - 1)  # frame n-1 is memorized when frame n is tracked
        for confident in (False, True):
            assert set(select_memory_indices(n, 4, confident)) <= kept
        kept = {f for f in kept if can_be_selected_later(f, n, 4)}
    # what it keeps: frame 0 and frames ~n/8 .. n-1
    assert min(kept - {0}) == oldest_needed_frame(1999, 4) == 250
    assert len(kept) == 1 + 1999 - 250


def _mem(value, c=3):
    return torch.full((1, c, 1, 2, 2), float(value))


def test_bank_gathers_in_the_given_order_with_repeats():
    bank = MemoryBank("cpu")
    for f in range(4):
        bank.add(f, _mem(f))
    out = bank.gather([3, 0, 1, 3])
    assert out.shape == (1, 3, 4, 2, 2) and out.dtype == torch.float32
    assert out[0, 0, :, 0, 0].tolist() == [3.0, 0.0, 1.0, 3.0]
    bank.discard([1, 2])
    assert bank.frames == [0, 3] and len(bank) == 2 and 3 in bank
    with pytest.raises(KeyError, match="frame 1 is not in the memory bank"):
        bank.gather([1])


def test_bank_rejects_multi_frame_entries():
    with pytest.raises(ValueError, match="one frame"):
        MemoryBank("cpu").add(0, torch.zeros(1, 3, 2, 2, 2))


def test_bank_half_precision_storage_and_offload():
    bank = MemoryBank("cpu", storage_device="cpu", storage_dtype=torch.float16, offload_after=2)
    bank.add(0, _mem(0.1))
    bank.add(5, _mem(1 / 3))
    assert bank.nbytes() == 2 * 12 * 2  # float16: 2 bytes per value
    out = bank.gather([0, 5])
    assert out.dtype == torch.float32  # compute is always float32
    assert abs(out[0, 0, 1, 0, 0].item() - 1 / 3) < 1e-3
    bank.clear()
    assert len(bank) == 0


def test_cap_eviction_keeps_ends_and_spreads_the_rest():
    from stmtrack_plugin.tracking.memory import frames_to_evict

    assert frames_to_evict([0, 1, 2, 3], 4) == []
    assert frames_to_evict([3, 0, 1, 2], 3) == [1]  # smallest span, older first on ties
    frames = list(range(0, 101))
    kept = sorted(set(frames) - set(frames_to_evict(frames, 11)))
    assert len(kept) == 11 and kept[0] == 0 and kept[-1] == 100
    gaps = [b - a for a, b in zip(kept, kept[1:])]
    assert max(gaps) <= 2 * min(gaps) + 1  # roughly even spacing
    with pytest.raises(ValueError, match="at least 2"):
        frames_to_evict(frames, 1)


def test_nearest_frame():
    from stmtrack_plugin.tracking.memory import nearest_frame

    assert nearest_frame(5, [0, 4, 6, 9]) == 4  # tie -> earlier
    assert nearest_frame(8, [0, 4, 6, 9]) == 9
    assert nearest_frame(3, [3]) == 3
    with pytest.raises(ValueError):
        nearest_frame(3, [])
