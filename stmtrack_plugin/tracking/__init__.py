"""The tracker: per-video state over a memory bank, driving a model that memorizes and tracks.

``STMTracker(model, params)`` reproduces the authors' tracker; see :mod:`.tracker` for the
conventions (BGR uint8 frames, 0-based ``[x, y, w, h]`` boxes).
"""
from stmtrack_plugin.tracking.tracker import STMTracker, TrackResult

__all__ = ["STMTracker", "TrackResult"]
