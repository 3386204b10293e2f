"""STMTrack as a ``got10k.trackers.Tracker`` (GOT-10k toolkit, PyPI ``got10k`` 0.1.3).

The toolkit hands ``init(image, box)`` / ``update(image)`` a ``PIL.Image`` in RGB and a box
``[x, y, w, h]`` (0-based, as in the dataset's ground truth); STMTrack wants BGR arrays, so the
image is converted here. The tracker is deterministic, so got10k runs one repetition only.

Timing: got10k's ``Tracker.track`` records the ``init`` time for frame 0 and its reports
average ``1 / t`` over all frames; :meth:`STMTrackGOT10k.track` records NaN for frame 0 instead
(as the package's own layouts do, see :mod:`stmtrack_plugin.adapters.layouts`), so
``speed_fps`` is the tracking speed. It also builds the tracker before the first frame, so the
model load is never timed. (got10k's ``ExperimentVOT.run`` times init frames itself; ``stmtrack
eval --benchmark vot`` does not use that loop.)

Importing this module imports ``got10k``; nothing else in the package does so eagerly.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from got10k.trackers import Tracker

from stmtrack_plugin.adapters.factory import TrackerSpec
from stmtrack_plugin.interfaces import Tracker as PackageTracker


def pil_to_bgr(image) -> np.ndarray:
    """HxWx3 uint8 BGR array from a PIL image (any mode) or an RGB array."""
    if hasattr(image, "convert"):
        image = image.convert("RGB")
    rgb = np.asarray(image, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image, got array of shape {rgb.shape}")
    return np.ascontiguousarray(rgb[:, :, ::-1])


class STMTrackGOT10k(Tracker):
    """got10k tracker wrapping any :class:`~stmtrack_plugin.interfaces.Tracker`.

    Pass a built ``tracker`` or a :class:`TrackerSpec` (built on first use). ``name`` is the
    folder results are written under.
    """

    def __init__(self, tracker: Optional[PackageTracker] = None, spec: Optional[TrackerSpec] = None,
                 name: str = "STMTrack", is_deterministic: Optional[bool] = None):
        if tracker is None and spec is None:
            raise ValueError("give a tracker or a TrackerSpec")
        deterministic = spec.deterministic if (is_deterministic is None and spec) else True
        if is_deterministic is not None:
            deterministic = bool(is_deterministic)
        super().__init__(name=name, is_deterministic=deterministic)
        self._tracker = tracker
        self._spec = spec

    @property
    def tracker(self) -> PackageTracker:
        if self._tracker is None:
            self._tracker = self._spec.build()
        return self._tracker

    def track(self, img_files, box, visualize: bool = False):
        """got10k's loop; returns (N, 4) boxes and (N,) seconds with NaN for frame 0."""
        self.tracker  # build (load weights) before anything is timed
        boxes, times = super().track(img_files, box, visualize)
        times = np.asarray(times, dtype=np.float64)
        times[:1] = np.nan
        return boxes, times

    def init(self, image, box) -> None:
        self.tracker.initialize(pil_to_bgr(image), [float(v) for v in np.asarray(box)[:4]])

    def update(self, image) -> np.ndarray:
        return np.asarray(self.tracker.track(pil_to_bgr(image)).box, dtype=np.float64)
