"""The memory: which past frames a query reads (pure policy) and where their features live.

Frame indices are 0-based positions in the sequence since ``initialize`` (frame 0 = the init
frame). When frame ``n`` is tracked, frames ``0 .. n-1`` have been memorized (the previous frame
is encoded lazily, one frame late, with its predicted box), so the bank holds ``n`` frames.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

import torch


def select_memory_indices(n: int, num_segments: int, prev_confident: bool) -> List[int]:
    """Frames whose features the query of frame ``n`` reads, in the order they are concatenated.

    The authors' rule (STMTRACK_SPEC.md §2.6, ``select_representatives``), with its quirks:

    * ``n <= num_segments``: all frames ``0 .. n-1`` in time order; no confidence gate.
    * otherwise, with ``dur = n // num_segments``, the 1-based list ``[1] + [k*dur + dur//2 + 1
      for k < num_segments]``, plus ``0`` if the previous frame was confident, is de-duplicated
      and sorted (``np.unique``). Index ``0`` means the *latest* frame ``n-1`` (Python's
      ``list[-1]``), index ``i >= 1`` means frame ``i - 1``. So the order is ``[n-1 (if
      confident), 0, seg_0, ..., seg_{S-1}]``, and duplicates across the two meanings stay:
      ``n = 8``, confident -> ``[7, 0, 1, 3, 5, 7]``.

    Args:
        n: number of memorized frames (>= 1), i.e. the index of the frame being tracked.
        num_segments: S (4 in every authors' setting).
        prev_confident: the previous frame's windowed best score exceeded the threshold.
    """
    if n < 1:
        raise ValueError(f"need at least one memorized frame, got n={n}")
    if n <= num_segments:
        return list(range(n))
    dur = n // num_segments
    one_based = {1} | {k * dur + dur // 2 + 1 for k in range(num_segments)}
    if prev_confident:
        one_based.add(0)
    return [n - 1 if i == 0 else i - 1 for i in sorted(one_based)]


def can_be_selected_later(frame: int, n: int, num_segments: int) -> bool:
    """Whether :func:`select_memory_indices` can return ``frame`` when tracking any frame > n.

    Valid for ``0 <= frame < n`` (the frames memorized so far). Frame 0 is always read; while
    the segment rule is off (``n + 1 <= num_segments``) every frame is. Otherwise a frame ``f``
    can only come back as a segment frame ``k*dur + dur//2`` with ``dur >= (n+1)//S``; the
    largest ``dur`` that yields ``f`` is ``2f + 1`` (``k = 0``), and every ``dur`` is reached
    eventually, so ``f`` is still reachable iff ``(n+1)//S <= 2f + 1``.

    Dropping the other frames changes no output (tests check this against the rule itself).
    Note what it buys: it keeps frame 0 and frames ``~n/(2S) .. n-1`` (7/8 of them for S = 4),
    because frame ``f`` is the middle of the first segment when ``n ~ 2*S*f``.
    """
    if frame == 0 or n + 1 <= num_segments:
        return True
    return (n + 1) // num_segments <= 2 * frame + 1


def oldest_needed_frame(n: int, num_segments: int) -> int:
    """Smallest frame ``f >= 1`` with :func:`can_be_selected_later` true after tracking ``n``."""
    if n + 1 <= num_segments:
        return 1
    return max(1, ((n + 1) // num_segments) // 2)


def frames_to_evict(frames: Sequence[int], cap: int) -> List[int]:
    """Which stored frames to drop so that at most ``cap`` remain (the opt-in memory cap).

    Frame 0 and the newest frame are never dropped. Otherwise the interior frame whose two
    neighbours are closest together (the smallest ``next - prev``) goes first, the older one on
    ties, which keeps the survivors spread evenly over the sequence, as the segment frames are.
    Pure function of integers; ``frames`` need not be sorted.
    """
    if cap < 2:
        raise ValueError(f"a memory cap must keep at least 2 frames (frame 0 and the newest), got {cap}")
    kept = sorted(set(frames))
    dropped = []
    while len(kept) > cap:
        spans = [kept[i + 1] - kept[i - 1] for i in range(1, len(kept) - 1)]
        i = 1 + spans.index(min(spans))
        dropped.append(kept.pop(i))
    return dropped


def nearest_frame(frame: int, kept: Sequence[int]) -> int:
    """The stored frame closest in time to ``frame`` (the earlier one on ties)."""
    if not kept:
        raise ValueError("no stored frames")
    return min(kept, key=lambda f: (abs(f - frame), f))


class MemoryBank:
    """Per-frame memory features, keyed by frame index (storage only; the policy is above).

    Each entry is one frame's memory, (1, C, 1, h, w) on ``storage_device`` in
    ``storage_dtype``; :meth:`gather` concatenates entries on dim 2 and returns them on the
    compute device in float32. Defaults (features kept on the compute device in float32) are
    the authors'; ``offload_after`` moves entries of frames >= K to ``storage_device`` (the
    authors' gpu_memory_threshold), and float16/bfloat16 storage halves the size (not
    bit-faithful).
    """

    def __init__(self, device: torch.device, storage_device: Optional[str] = None,
                 storage_dtype: torch.dtype = torch.float32,
                 offload_after: Optional[int] = None):
        self.device = torch.device(device)
        self.storage_device = torch.device(storage_device) if storage_device else self.device
        self.storage_dtype = storage_dtype
        self.offload_after = offload_after
        self._entries: Dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, frame: int) -> bool:
        return frame in self._entries

    @property
    def frames(self) -> List[int]:
        return sorted(self._entries)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self._entries.values())

    def add(self, frame: int, memory: torch.Tensor) -> None:
        """Store frame ``frame``'s memory, (1, C, 1, h, w)."""
        if memory.dim() != 5 or memory.shape[2] != 1:
            raise ValueError(f"expected one frame's memory (1, C, 1, h, w), got {tuple(memory.shape)}")
        offload = self.offload_after is not None and frame >= self.offload_after
        target = self.storage_device if offload else self.device
        self._entries[frame] = memory.detach().to(device=target, dtype=self.storage_dtype)

    def get(self, frame: int) -> torch.Tensor:
        """The stored entry of ``frame`` as it is kept (storage device and dtype)."""
        return self._entries[frame]

    def gather(self, frames: Iterable[int]) -> torch.Tensor:
        """Concatenate the entries of ``frames`` (repeats allowed) on dim 2: (1, C, T, h, w)."""
        try:
            parts = [self._entries[f] for f in frames]
        except KeyError as exc:
            raise KeyError(f"frame {exc.args[0]} is not in the memory bank "
                           f"(holds {len(self._entries)} frames)") from None
        parts = [p.to(device=self.device, dtype=torch.float32) for p in parts]
        return torch.cat(parts, dim=2)

    def discard(self, frames: Iterable[int]) -> None:
        for f in list(frames):
            self._entries.pop(f, None)

    def clear(self) -> None:
        self._entries.clear()
