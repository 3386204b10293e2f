"""What every dataset reader returns, and the on-disk index cache that keeps start-up fast.

A reader turns a dataset root into a list of :class:`TrackRecord`: one tracked object with its
frame files, (N, 4) xywh boxes in frame pixels (as written in the annotation files, no 1-based
shift: the authors use the raw values too) and a visibility mask. Still-image datasets (COCO,
ImageNet DET) give one record per object with a single frame and ``is_image=True``.

Scanning a full dataset (ImageNet VID has a million XML files) takes minutes, so readers build
their record list once and store it in a JSON cache keyed by the dataset kind, split, absolute
root and the root's modification time. The cache lives in ``$STMTRACK_CACHE`` (default
``~/.cache/stmtrack/index``), never inside the (often read-only) dataset root.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np

CACHE_ENV = "STMTRACK_CACHE"
#: bump when the cached record format changes
CACHE_VERSION = 1


@dataclass(frozen=True)
class TrackRecord:
    """One object track: ``frames[i]`` shows the object at ``boxes[i]`` (xywh, frame pixels).

    ``visible[i]`` is False where the object is absent, fully occluded or out of view; samplers
    draw only visible frames. ``frame_dir`` + ``frame_names`` keep the cache compact.
    """

    name: str
    frame_dir: str
    frame_names: tuple
    boxes: np.ndarray  # (N, 4) float32 xywh
    visible: np.ndarray  # (N,) bool
    is_image: bool = False

    def __len__(self) -> int:
        return len(self.frame_names)

    def frame_path(self, index: int) -> str:
        return os.path.join(self.frame_dir, self.frame_names[index])

    def visible_indices(self) -> np.ndarray:
        return np.flatnonzero(self.visible)


def make_record(name: str, frame_dir: str, frame_names, boxes, visible=None,
                is_image: bool = False) -> TrackRecord:
    """Build a record, checking that frames, boxes and visibility have the same length.

    Boxes with NaN, or with w <= 0 or h <= 0, are marked invisible.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    frame_names = tuple(frame_names)
    if len(boxes) != len(frame_names):
        raise ValueError(f"{name}: {len(frame_names)} frames but {len(boxes)} boxes")
    vis = np.ones(len(boxes), bool) if visible is None else np.asarray(visible, bool).reshape(-1)
    if len(vis) != len(boxes):
        raise ValueError(f"{name}: {len(boxes)} boxes but {len(vis)} visibility flags")
    finite = np.isfinite(boxes).all(axis=1)
    vis = vis & finite & (np.nan_to_num(boxes[:, 2]) > 0) & (np.nan_to_num(boxes[:, 3]) > 0)
    return TrackRecord(name, frame_dir, frame_names, boxes, vis, is_image)


def require_dir(path: str, kind: str, hint: str) -> str:
    """Return ``path`` if it is a folder, else raise naming the dataset and the expected layout."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{kind} root not found or not a folder: {path}. Expected {hint}")
    return path


def cache_dir() -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache",
                                                     "stmtrack", "index")


def _cache_path(kind: str, split: str, root: str) -> str:
    root = os.path.abspath(root)
    key = json.dumps([CACHE_VERSION, kind, split, root, os.stat(root).st_mtime_ns])
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"{kind}-{split}-{digest}.json.gz")


def _to_json(records: List[TrackRecord]) -> str:
    return json.dumps([{
        "name": r.name, "dir": r.frame_dir, "frames": list(r.frame_names),
        "boxes": np.round(r.boxes.astype(np.float64), 3).tolist(),
        "visible": r.visible.astype(int).tolist(), "image": r.is_image} for r in records])


def _from_json(text: str) -> List[TrackRecord]:
    return [TrackRecord(d["name"], d["dir"], tuple(d["frames"]),
                        np.asarray(d["boxes"], np.float32).reshape(-1, 4),
                        np.asarray(d["visible"], bool), bool(d["image"])) for d in json.loads(text)]


def cached_index(kind: str, split: str, root: str, build: Callable[[], List[TrackRecord]],
                 use_cache: bool = True) -> List[TrackRecord]:
    """Return ``build()``'s records, reading/writing the JSON cache when ``use_cache``.

    A cache that cannot be written (read-only home) is skipped silently; a corrupt cache file is
    rebuilt. Changing the root folder (adding a sequence) changes its mtime and the cache key.
    """
    if not use_cache:
        return build()
    path: Optional[str] = _cache_path(kind, split, root)
    if os.path.isfile(path):
        try:
            with gzip.open(path, "rt") as f:
                return _from_json(f.read())
        except (OSError, ValueError, KeyError):
            pass  # corrupt or old: rebuild below
    records = build()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + f".tmp{os.getpid()}"
        with gzip.open(tmp, "wt") as f:
            f.write(_to_json(records))
        os.replace(tmp, path)
    except OSError:
        pass
    return records
