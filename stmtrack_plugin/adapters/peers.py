"""Weight-free (or ONNX-only) OpenCV trackers used as peers next to STMTrack.

Each peer is a :class:`~stmtrack_plugin.interfaces.Tracker` (``track`` returns a
:class:`PeerResult`), so every toolkit adapter and the runner drive them exactly like STMTrack.

Which trackers exist depends on the OpenCV build:

* ``mil`` and ``nanotrack`` are in the plain ``opencv-python`` / ``-headless`` wheels;
* ``csrt`` and ``kcf`` need ``opencv-contrib-python-headless`` of the same version as the installed
  OpenCV (it replaces the ``cv2`` package; see the README's note on OpenCV distributions).

NanoTrack needs its two ONNX files (``nanotrack_backbone_sim_v2.onnx`` and
``nanotrack_head_sim_v2.onnx``), found in ``model_dir`` or ``$STMTRACK_NANOTRACK_DIR``.
"""
from __future__ import annotations

import os
from typing import NamedTuple, Optional, Sequence

import numpy as np

#: peers that can be named on the command line
PEER_NAMES = ("csrt", "kcf", "mil", "nanotrack")
#: environment variable naming the folder with the NanoTrack ONNX files
NANOTRACK_ENV = "STMTRACK_NANOTRACK_DIR"
NANOTRACK_FILES = ("nanotrack_backbone_sim_v2.onnx", "nanotrack_head_sim_v2.onnx")

_OPENCV_CLASSES = {"csrt": "TrackerCSRT", "kcf": "TrackerKCF", "mil": "TrackerMIL",
                   "nanotrack": "TrackerNano"}


class PeerResult(NamedTuple):
    """Output of one frame: ``box`` (x, y, w, h) 0-based floats and a confidence ``score``."""

    box: tuple
    score: float


def available_peers() -> list:
    """Names of the peers the installed OpenCV build provides (NanoTrack still needs its files)."""
    import cv2

    return [name for name in PEER_NAMES if _factory(cv2, name) is not None]


def _factory(cv2, name: str):
    cls_name = _OPENCV_CLASSES[name]
    cls = getattr(cv2, cls_name, None)
    if cls is not None and hasattr(cls, "create"):
        return cls.create
    create = getattr(cv2, cls_name + "_create", None)
    if create is not None:
        return create
    legacy = getattr(cv2, "legacy", None)
    return getattr(legacy, cls_name + "_create", None) if legacy is not None else None


def _missing_message(cv2, name: str) -> str:
    version = cv2.__version__
    return (f"OpenCV {version} has no cv2.{_OPENCV_CLASSES[name]} (peer {name!r}); it is in the "
            f"contrib build: pip install \"opencv-contrib-python-headless=={version}.*\" (same "
            f"version as the installed OpenCV). Peers available here: "
            f"{', '.join(available_peers()) or 'none'}")


def find_nanotrack_files(model_dir: Optional[str] = None) -> tuple:
    """Return the (backbone, head) ONNX paths from ``model_dir`` or ``$STMTRACK_NANOTRACK_DIR``."""
    folder = model_dir or os.environ.get(NANOTRACK_ENV)
    if not folder:
        raise FileNotFoundError(
            f"NanoTrack needs its ONNX files: pass --nanotrack-dir DIR or set {NANOTRACK_ENV} "
            f"(files: {', '.join(NANOTRACK_FILES)})")
    paths = tuple(os.path.join(os.path.expanduser(folder), f) for f in NANOTRACK_FILES)
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(f"NanoTrack model file(s) not found: {', '.join(missing)}")
    return paths


class OpenCVPeer:
    """An OpenCV ``cv2.Tracker`` as a :class:`~stmtrack_plugin.interfaces.Tracker`.

    OpenCV's new API takes integer boxes at ``init`` and returns integer boxes; the legacy API
    (contrib ``cv2.legacy``) works with floats. Both are handled. A lost target (``ok`` False)
    repeats the last box with score 0, so every frame has a box as the toolkits require.
    """

    def __init__(self, name: str, nanotrack_dir: Optional[str] = None):
        import cv2

        if name not in PEER_NAMES:
            raise ValueError(f"unknown peer {name!r}; choose from {', '.join(PEER_NAMES)}")
        create = _factory(cv2, name)
        if create is None:
            raise RuntimeError(_missing_message(cv2, name))
        self.name = name
        self._create = create
        self._nano_files = find_nanotrack_files(nanotrack_dir) if name == "nanotrack" else None
        self._tracker = None
        self._box = None

    def _new_tracker(self):
        if self._nano_files is None:
            return self._create()
        import cv2

        params = cv2.TrackerNano_Params()
        params.backbone, params.neckhead = self._nano_files
        return self._create(params)

    def initialize(self, image: np.ndarray, box: Sequence[float]) -> None:
        """Start on ``image`` (HxWx3 uint8 BGR) at ``box`` (x, y, w, h), 0-based."""
        x, y, w, h = (float(v) for v in box)
        if w <= 0 or h <= 0:
            raise ValueError(f"initial box must have positive size, got {box}")
        self._tracker = self._new_tracker()
        rect = tuple(int(round(v)) for v in (x, y, max(w, 1), max(h, 1)))
        self._tracker.init(image, rect)
        self._box = (x, y, w, h)

    def track(self, image: np.ndarray) -> PeerResult:
        """Track one frame; returns the box (x, y, w, h) and a confidence in [0, 1]."""
        if self._tracker is None:
            raise RuntimeError("track() called before initialize()")
        ok, rect = self._tracker.update(image)
        if not ok:
            return PeerResult(self._box, 0.0)
        self._box = tuple(float(v) for v in rect)
        score = 1.0
        if hasattr(self._tracker, "getTrackingScore"):
            score = float(self._tracker.getTrackingScore())
        return PeerResult(self._box, score)
