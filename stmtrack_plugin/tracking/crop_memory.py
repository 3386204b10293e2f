"""Low-memory bank: keep each memorized frame's uint8 crop, re-encode it when the rule reads it.

``TrackerParams.memory_mode = "crops"``. A stored frame is its memory crop (S x S x 3 uint8
BGR, exactly what :func:`~.crop.crop_square` returns and what the default mode encodes at
once) plus the two numbers its fg/bg label map is made from; 289 x 289 x 3 = 245 KiB per frame
instead of the authors' 512 x 25 x 25 float32 features (1.25 MiB). Encoding the same crop and
label map again, one frame per call as the default mode does, gives the same features, so the
tracker's output is unchanged (tests compare the two modes box for box).

The features of the frames the last query read are cached (at most ``num_segments + 2``
frames). Frame 0 and the segment frames move slowly, so a frame re-encodes the new previous
frame (the default mode encodes it too) and, every ``num_segments`` frames or so, the segment
frames that moved: see ``encodes`` for the count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch


@dataclass(frozen=True)
class StoredCrop:
    """One memorized frame before encoding (the inputs of ``model.memorize``)."""

    crop: np.ndarray  # (S, S, 3) uint8 BGR memory crop
    size_wh: np.ndarray  # (2,) float32 target (w, h) in frame pixels (label map input)
    crop_scale: float  # crop pixels per frame pixel (label map input)

    @property
    def nbytes(self) -> int:
        return int(self.crop.nbytes + self.size_wh.nbytes + 8)


#: bytes per block of crop slots: above glibc's largest mmap threshold (32 MiB), so every block
#: is its own mapping and goes back to the system on clear()
SLAB_BYTES = 64 * 2**20


class CropSlots:
    """Equal-shaped uint8 crops in blocks of ``SLAB_BYTES``; :meth:`store` copies a crop into a
    free slot and returns ``(view, slot)``, :meth:`release` frees the slot for the next crop."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self._shape: Optional[Tuple[int, ...]] = None
        self._slabs: List[np.ndarray] = []
        self._free: List[Tuple[int, int]] = []
        self._per_slab = 0
        self._next = 0  # first never-used slot of the last block

    def store(self, crop: np.ndarray) -> Tuple[np.ndarray, Tuple[int, int]]:
        if self._shape is None:
            self._shape = crop.shape
            self._per_slab = max(1, SLAB_BYTES // max(1, crop.nbytes))
        elif crop.shape != self._shape:
            raise ValueError(f"crop shape {crop.shape} differs from the bank's {self._shape}")
        if self._free:
            slot = self._free.pop()
        else:
            if not self._slabs or self._next == self._per_slab:
                self._slabs.append(np.empty((self._per_slab,) + self._shape, dtype=np.uint8))
                self._next = 0
            slot = (len(self._slabs) - 1, self._next)
            self._next += 1
        view = self._slabs[slot[0]][slot[1]]
        view[...] = crop
        return view, slot

    def release(self, slot: Tuple[int, int]) -> None:
        self._free.append(slot)


class CropMemoryBank:
    """Same interface as :class:`~.memory.MemoryBank`, storing :class:`StoredCrop` entries.

    Args:
        encode: ``StoredCrop -> (1, C, 1, h, w)`` float32 features on the compute device (the
            tracker's own encoder: label map + ``model.memorize`` on one frame).
    """

    def __init__(self, encode: Callable[[StoredCrop], torch.Tensor]):
        self._encode = encode
        self._entries: Dict[int, StoredCrop] = {}
        self._slot_of: Dict[int, Tuple[int, int]] = {}
        self._slots = CropSlots()
        self._cache: Dict[int, torch.Tensor] = {}
        self.encodes = 0  # number of encode calls so far (for benchmarks and tests)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, frame: int) -> bool:
        return frame in self._entries

    @property
    def frames(self) -> List[int]:
        return sorted(self._entries)

    @property
    def cached_frames(self) -> List[int]:
        return sorted(self._cache)

    def nbytes(self) -> int:
        """Stored crops plus cached features, in bytes."""
        crops = sum(e.nbytes for e in self._entries.values())
        return crops + sum(t.numel() * t.element_size() for t in self._cache.values())

    def add(self, frame: int, entry: StoredCrop) -> None:
        """Store frame ``frame``'s crop (no network call)."""
        if not isinstance(entry, StoredCrop) or entry.crop.dtype != np.uint8 or entry.crop.ndim != 3:
            raise ValueError("expected a StoredCrop with an (S, S, 3) uint8 crop")
        self.discard([frame])
        view, self._slot_of[frame] = self._slots.store(entry.crop)
        self._entries[frame] = StoredCrop(view, entry.size_wh, entry.crop_scale)

    def gather(self, frames: Iterable[int]) -> torch.Tensor:
        """Features of ``frames`` (repeats allowed) concatenated on dim 2: (1, C, T, h, w).

        Frames not in the cache are encoded one at a time; afterwards the cache holds exactly
        the frames of this call.
        """
        frames = list(frames)
        cache = {}
        for f in frames:
            if f in cache:
                continue
            if f not in self._entries:
                raise KeyError(f"frame {f} is not in the memory bank (holds {len(self._entries)} frames)")
            if f in self._cache:
                cache[f] = self._cache[f]
            else:
                cache[f] = self._encode(self._entries[f])
                self.encodes += 1
        self._cache = cache
        return torch.cat([cache[f] for f in frames], dim=2)

    def discard(self, frames: Iterable[int]) -> None:
        for f in list(frames):
            if self._entries.pop(f, None) is not None:
                self._slots.release(self._slot_of.pop(f))
            self._cache.pop(f, None)

    def clear(self) -> None:
        self._entries.clear()
        self._slot_of.clear()
        self._slots.clear()
        self._cache.clear()
