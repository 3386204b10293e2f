"""Which frames make one training sample: T memory frames and one query frame.

Follows the authors' ``TrackPairSampler`` (SPEC §3). A positive sample draws an anchor frame
``idx1`` uniformly, then T memory frames without replacement within ``max_gap`` frames of it; the
T + 1 frames are shuffled and the last becomes the query, so memory frames are not in time order.
A negative sample (probability ``negative_ratio``) takes the query from another record of the
same dataset. Still images repeat one image T + 1 times.

Only visible frames are drawn. ``authors_bug=True`` reproduces the authors' index bug: the
candidate range is ``[idx1 - max_gap, L)``, i.e. no upper bound, and ``idx1`` itself may be drawn
again as a memory frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from stmtrack_plugin.training.datasets.base import TrackRecord


def sample_frame_indices(visible: np.ndarray, rng: np.random.Generator, num_memory: int,
                         max_gap: int, authors_bug: bool = False) -> Tuple[List[int], int]:
    """Pick ``num_memory`` memory frames and one query frame among the ``visible`` frame indices.

    Returns ``(memory, query)`` as frame indices of the record. With ``authors_bug=False`` every
    memory frame satisfies ``0 < |memory - idx1| <= max_gap`` in frame numbers, where idx1 is the
    anchor frame (which ends up as the query or as one of the memory frames after shuffling). If
    fewer than ``num_memory`` candidates exist they are drawn with replacement (a one-frame record
    repeats its frame).
    """
    visible = np.asarray(visible, dtype=np.int64)
    if len(visible) == 0:
        raise ValueError("record has no visible frame")
    if authors_bug:
        pos1 = int(rng.integers(len(visible)))
        candidates = visible[max(pos1 - max_gap, 0):]  # range(idx1 - max_diff, L) ∩ [0, L)
        idx1 = int(visible[pos1])
    else:
        idx1 = int(rng.choice(visible))
        near = np.abs(visible - idx1) <= max_gap
        candidates = visible[near & (visible != idx1)]
        if len(candidates) == 0:
            candidates = np.asarray([idx1])
    replace = len(candidates) < num_memory
    memory = [int(i) for i in rng.choice(candidates, size=num_memory, replace=replace)]
    frames = memory + [idx1]
    rng.shuffle(frames)
    return frames[:-1], frames[-1]


@dataclass(frozen=True)
class SampleSpec:
    """Frames of one sample: ``memory`` = [(record, frame index)] * T, ``query`` = (record, index)."""

    memory: Tuple[Tuple[TrackRecord, int], ...]
    query: Tuple[TrackRecord, int]
    negative: bool


class PairSampler:
    """Draw :class:`SampleSpec` from several datasets with given sampling ratios.

    ``datasets`` is a list of record lists; records without a visible frame are dropped.
    """

    def __init__(self, datasets: Sequence[Sequence[TrackRecord]], ratios: Sequence[float],
                 num_memory: int = 3, max_gap: int = 50, negative_ratio: float = 0.33,
                 authors_bug: bool = False):
        if len(datasets) != len(ratios):
            raise ValueError(f"{len(datasets)} datasets but {len(ratios)} ratios")
        self.datasets = [[r for r in recs if r.visible.any()] for recs in datasets]
        for k, recs in enumerate(self.datasets):
            if not recs:
                raise ValueError(f"dataset #{k} has no record with a visible frame")
        p = np.asarray(ratios, dtype=np.float64)
        self.probs = p / p.sum()
        self.num_memory = num_memory
        self.max_gap = max_gap
        self.negative_ratio = negative_ratio
        self.authors_bug = authors_bug

    def sample(self, rng: np.random.Generator) -> SampleSpec:
        records = self.datasets[int(rng.choice(len(self.datasets), p=self.probs))]
        negative = bool(rng.random() < self.negative_ratio) and len(records) > 1
        k = int(rng.integers(len(records)))
        rec = records[k]
        memory, query = sample_frame_indices(rec.visible_indices(), rng, self.num_memory,
                                             self.max_gap, self.authors_bug)
        query_rec = rec
        if negative:
            other = int(rng.integers(len(records) - 1))
            query_rec = records[other + (other >= k)]
            query = int(rng.choice(query_rec.visible_indices()))
        return SampleSpec(tuple((rec, i) for i in memory), (query_rec, query), negative)


def box_is_reasonable(box_xywh, image_hw, max_aspect_ratio: float = 10.0,
                      area_rate_range=(0.001, 0.6), authors_bug: bool = False) -> bool:
    """The authors' ``TrackPairFilter`` test for one frame's box.

    Rejects non-positive sizes and aspect ratios >= ``max_aspect_ratio``; with ``authors_bug=False``
    also box areas outside ``area_rate_range`` times the image area (the authors' filter never
    enforces the area limits).
    """
    w, h = float(box_xywh[2]), float(box_xywh[3])
    if not (w > 0 and h > 0):
        return False
    if max(w / h, h / w) >= max_aspect_ratio:
        return False
    if authors_bug:
        return True
    rate = w * h / float(image_hw[0] * image_hw[1])
    return area_rate_range[0] <= rate <= area_rate_range[1]
