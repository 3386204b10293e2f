"""Batched tracking: one network step for the next frame of K sequences (``stmtrack eval --batch``).

Each sequence keeps its own :class:`~.tracker.STMTracker` (state, memory bank, crops,
post-processing); the trackers share one model. :func:`track_step` runs the stages of
``STMTracker.track`` for K sequences with **one** batched ``memorize`` (the K frames memorized at
this step) and **one** batched ``track`` (query encoder, memory read, head) for the K queries:

* the memory frame lists differ per sequence (:func:`~.memory.select_memory_indices`, the
  confidence gate), so the K memories are padded with zeros to the longest, and the padded
  frames are masked out of the memory read's softmax (``memory_mask``,
  :func:`~stmtrack_plugin.model.head.memory_read`);
* every other computation is the tracker's own, per sequence.

With ``params.parallel_stages`` the step runs its halves as ``STMTracker.track`` does: the
batched query encoder on the lead tracker's stage thread beside the memory side, then the box
tower beside the classification tower (same operations, same result).

The result equals K separate ``track`` calls up to float summation order (batched convolutions
and the padded read may add in another order; tests hold boxes to 1e-4 px). In
``memory_mode="crops"`` memory crops are stored and re-encoded per sequence as the
unbatched tracker does (only the ``track`` call is batched).

Devices: tensors are made on the trackers' device and only copied to the host with ``.cpu()``.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch

from stmtrack_plugin.model.stages import submit_here
from stmtrack_plugin.tracking.tracker import StepInputs, STMTracker, TrackResult


def check_batchable(trackers: Sequence[STMTracker]) -> None:
    """Trackers batched together must share one model, parameters and device."""
    if not trackers:
        raise ValueError("no trackers to batch")
    lead = trackers[0]
    for t in trackers[1:]:
        if t.model is not lead.model or t.params != lead.params or t.device != lead.device:
            raise ValueError("batched trackers must share one model, their parameters and device")


def pad_memories(memories: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """K memories (1, C, T_i, h, w) -> (K, C, T, h, w) zero-padded to T = max T_i, and the
    (K, T) bool mask of real frames (on the memories' device)."""
    t_max = max(m.shape[2] for m in memories)
    device = memories[0].device
    mask = torch.zeros((len(memories), t_max), dtype=torch.bool, device=device)
    rows = []
    for i, m in enumerate(memories):
        t = m.shape[2]
        mask[i, :t] = True
        if t < t_max:
            pad = torch.zeros((1, m.shape[1], t_max - t) + tuple(m.shape[3:]), dtype=m.dtype,
                              device=device)
            m = torch.cat([m, pad], dim=2)
        rows.append(m)
    return torch.cat(rows, dim=0), mask


def memorize_batch(trackers: Sequence[STMTracker], steps: Sequence[StepInputs]) -> torch.Tensor:
    """One ``model.memorize`` call for every sequence's memory crop: (1, C, K, h, w)."""
    lead = trackers[0]
    crops = np.stack([s.memory_entry.crop for s in steps])  # (K, S, S, 3) uint8
    labels = np.stack([t.label_map(s.memory_entry) for t, s in zip(trackers, steps)])
    frames = torch.from_numpy(crops).to(lead.device).permute(0, 3, 1, 2).float()
    fg_bg = torch.from_numpy(labels)[:, None].to(lead.device)
    return lead.model.memorize(frames, fg_bg)


def track_step(trackers: Sequence[STMTracker], steps: Sequence[StepInputs]) -> List[TrackResult]:
    """Track the next frame of each sequence: ``steps[i] = trackers[i].prepare_step(frame_i)``.

    Returns one :class:`~.tracker.TrackResult` per tracker, as ``trackers[i].track(frame_i)``
    would (up to float summation order); updates every tracker's state and memory.
    """
    check_batchable(trackers)
    if len(steps) != len(trackers):
        raise ValueError(f"{len(steps)} steps for {len(trackers)} trackers")
    lead = trackers[0]
    with torch.inference_mode(), lead._autocast():
        query = torch.cat([lead._to_tensor(s.query) for s in steps], dim=0)
        stages = lead._stages  # params.parallel_stages: the query encoder beside the memory side
        pending = None if stages is None else submit_here(stages, lead.device.type,
                                                          lead.model.encode_query, query)
        if lead.params.memory_mode == "crops":
            for t, s in zip(trackers, steps):
                t.store_memory(s, s.memory_entry)
        else:
            memory = memorize_batch(trackers, steps)
            for i, (t, s) in enumerate(zip(trackers, steps)):
                t.store_memory(s, memory[:, :, i:i + 1].clone())
        frames = [t.memory_frames(s) for t, s in zip(trackers, steps)]
        memories = [t.memory.gather(f) for t, f in zip(trackers, frames)]
        if len({m.shape[2] for m in memories}) == 1:
            memory, mask = torch.cat(memories, dim=0), None
        else:
            memory, mask = pad_memories(memories)
        if pending is None:
            score, boxes = lead.model.track(query, memory, memory_mask=mask)
        else:
            score, boxes = lead.model.track_features(pending.result(), memory, query.shape[-1],
                                                     memory_mask=mask, executor=stages)
    return [t.finish_step(s, f, score[i:i + 1], boxes[i:i + 1])
            for i, (t, s, f) in enumerate(zip(trackers, steps, frames))]


def tracker_like(tracker: STMTracker) -> STMTracker:
    """A new tracker (own state and memory) on the same model, parameters and device."""
    return STMTracker(tracker.model, tracker.params, tracker.device, debug=tracker.debug)
