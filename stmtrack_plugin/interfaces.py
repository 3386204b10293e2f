"""The two seams of the package, as ``typing.Protocol`` s: what a tracker needs from its network
(:class:`TrackingModel`) and what every toolkit adapter, the runner and the evaluation protocols
need from a tracker (:class:`Tracker`). This module is the one description of both; the classes
that implement them (:class:`~stmtrack_plugin.model.STMTrack`,
:class:`~stmtrack_plugin.tracking.STMTracker`, :class:`~stmtrack_plugin.adapters.peers.OpenCVPeer`)
and the code that drives them refer here.

Frames and boxes at the :class:`Tracker` seam:

* **frames** are HxWx3 uint8 **BGR** numpy arrays (what ``cv2.imread`` returns); adapters whose
  toolkit hands RGB (got10k, pytracking) convert before calling;
* **boxes** are ``(x, y, w, h)`` floats, 0-based, in frame pixels.

Tensors at the :class:`TrackingModel` seam (S = crop side, K = score cells, C = memory channels):
float32 **BGR** crops with values 0..255; boxes are xyxy in crop pixels; the K cells are in
row-major order (k = score_size * i + j). The model holds no per-video state, so one model can
serve several trackers.

All protocols are ``runtime_checkable``: ``isinstance(obj, Tracker)`` checks that the methods
exist (not their signatures).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence, Tuple, runtime_checkable

if TYPE_CHECKING:  # keep this module import-light: adapters load it without the network
    import numpy as np
    import torch


@runtime_checkable
class TrackingModel(Protocol):
    """The network a tracker drives (stateless between calls)."""

    def memorize(self, frames: "torch.Tensor", fg_bg: "torch.Tensor") -> "torch.Tensor":
        """frames (N, 3, S, S) and fg_bg (N, 1, S, S) (1 inside the target box, else 0)
        -> memory (1, C, N, h, w). Memories of several calls are concatenated on dim 2."""

    def track(self, query: "torch.Tensor",
              memory: "torch.Tensor") -> Tuple["torch.Tensor", "torch.Tensor"]:
        """query (1, 3, S, S), memory (1, C, T, h, w) -> score (1, K), boxes (1, K, 4) xyxy."""


@runtime_checkable
class StagedTrackingModel(Protocol):
    """Optional for a :class:`TrackingModel`: ``track`` in two stages, so the tracker can run
    the query encoder beside the memory side (``TrackerParams.parallel_stages``)."""

    def encode_query(self, query: "torch.Tensor") -> "torch.Tensor":
        """query (B, 3, S, S) -> query features (B, C, h, w)."""

    def track_features(self, fq: "torch.Tensor", memory: "torch.Tensor", crop_size: int,
                       memory_mask=None, executor=None) -> Tuple["torch.Tensor", "torch.Tensor"]:
        """``track`` from query features: ``track(q, m) == track_features(encode_query(q), m,
        S)``; ``executor`` (a ``concurrent.futures.Executor``) may run independent parts."""


@runtime_checkable
class ScoreGeometry(Protocol):
    """Optional for a :class:`TrackingModel`: the model says where its score cells lie.

    A model without it is taken to have the authors' Inception geometry (25 x 25 cells, offset
    48, stride 8 for S = 289; see :mod:`stmtrack_plugin.model.geometry`).
    """

    def score_geometry(self, crop_size: int) -> Tuple[int, int]:
        """``(score_size, offset)``: cell (i, j) is centred at crop pixel
        ``(offset + stride * j, offset + stride * i)``, K = score_size ** 2."""


@runtime_checkable
class TrackOutput(Protocol):
    """What :meth:`Tracker.track` returns (at least): the box and a confidence."""

    @property
    def box(self) -> Sequence[float]:
        """``(x, y, w, h)`` 0-based floats in frame pixels."""

    @property
    def score(self) -> float:
        """Confidence of the box (higher is surer; the scale is the tracker's own)."""


@runtime_checkable
class Tracker(Protocol):
    """A single-object tracker: ``initialize`` on the first frame, then ``track`` per frame."""

    def initialize(self, image: "np.ndarray", box: Sequence[float]) -> None:
        """Start a new video on ``image`` (HxWx3 uint8 BGR) at ``box`` (x, y, w, h)."""

    def track(self, image: "np.ndarray") -> TrackOutput:
        """The target in the next frame of the same video (same size as the first)."""
