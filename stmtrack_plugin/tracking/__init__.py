"""The tracker: per-video state over a memory bank, driving a model that memorizes and tracks.

``STMTracker(model, params)`` reproduces the authors' tracker; :mod:`stmtrack_plugin.interfaces`
describes what it drives and what it offers (``TrackingModel``, ``Tracker``).
"""
from stmtrack_plugin.tracking.tracker import STMTracker, TrackResult

__all__ = ["STMTracker", "TrackResult"]
