"""What every dataset reader returns, and the on-disk index cache that keeps start-up fast.

A reader turns a dataset root into a list of :class:`TrackRecord`: one tracked object with its
frame files, (N, 4) xywh boxes in frame pixels (as written in the annotation files, no 1-based
shift: the authors use the raw values too) and a visibility mask. Still-image datasets (COCO,
ImageNet DET) give one record per object with a single frame and ``is_image=True``. Video
datasets give records with ``video=True``: ``frame_dir`` is then the video file and frame ``i`` is
its ``i``-th decoded frame (read with :func:`.frames.read_record_frames`).

Scanning a full dataset (ImageNet VID has a million XML files) takes minutes, so readers build
their record list once and store it in a cache file keyed by the dataset kind, split, absolute
root and the root folder's modification time. The cache lives in ``$STMTRACK_CACHE`` (default
``~/.cache/stmtrack/index``), never inside the (often read-only) dataset root. It is an ``.npz``
(boxes and flags as arrays, record metadata as JSON; no pickle), and numbered frame files
(``00000001.jpg`` ...) are stored as a pattern, so TrackingNet's 14 M frames stay small. Edits
inside a sequence folder do not change the root's mtime: pass ``use_cache=False``
(``--no-index-cache``) after such edits.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import Callable, List, Sequence, Union

import numpy as np

CACHE_ENV = "STMTRACK_CACHE"
#: bump when the cached record format changes
CACHE_VERSION = 2
_NUMBERED = re.compile(r"^(.*?)(\d+)(\.[^.]+)$")


@dataclass(frozen=True)
class NumberedFrames(Sequence):
    """Frame names ``prefix + str(start + i).zfill(width) + suffix`` for i in range(count)."""

    prefix: str
    width: int
    suffix: str
    start: int
    count: int

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.count))]
        if not -self.count <= index < self.count:
            raise IndexError(f"frame index {index} out of range for {self.count} frames")
        index %= self.count
        return f"{self.prefix}{str(self.start + index).zfill(self.width)}{self.suffix}"


FrameNames = Union[tuple, NumberedFrames]


def compact_names(names) -> FrameNames:
    """A :class:`NumberedFrames` equal to ``names`` when they are consecutive numbers, else a tuple."""
    if isinstance(names, NumberedFrames):
        return names
    names = tuple(names)
    match = _NUMBERED.match(names[0]) if names else None
    if match:
        prefix, digits, suffix = match.groups()
        width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
        pattern = NumberedFrames(prefix, width, suffix, int(digits), len(names))
        if all(a == b for a, b in zip(pattern, names)):
            return pattern
    return names


@dataclass(frozen=True)
class TrackRecord:
    """One object track: ``frame_path(i)`` shows the object at ``boxes[i]`` (xywh, frame pixels).

    ``visible[i]`` is False where the object is absent, fully occluded or out of view; samplers
    draw only visible frames. With ``video=True``, ``frame_dir`` is a video file, ``frame_names``
    are the frame numbers as text and ``frame_path(i)`` is only a label (``video.mp4#i``).
    """

    name: str
    frame_dir: str
    frame_names: FrameNames
    boxes: np.ndarray  # (N, 4) float32 xywh
    visible: np.ndarray  # (N,) bool
    is_image: bool = False
    video: bool = False

    def __len__(self) -> int:
        return len(self.frame_names)

    def frame_path(self, index: int) -> str:
        if self.video:
            return f"{self.frame_dir}#{self.frame_names[index]}"
        return os.path.join(self.frame_dir, self.frame_names[index])

    def visible_indices(self) -> np.ndarray:
        return np.flatnonzero(self.visible)


def make_record(name: str, frame_dir: str, frame_names, boxes, visible=None,
                is_image: bool = False, video: bool = False) -> TrackRecord:
    """Build a record, checking that frames, boxes and visibility have the same length.

    Boxes with NaN, or with w <= 0 or h <= 0, are marked invisible.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    frame_names = compact_names(frame_names)
    if len(boxes) != len(frame_names):
        raise ValueError(f"{name}: {len(frame_names)} frames but {len(boxes)} boxes")
    vis = np.ones(len(boxes), bool) if visible is None else np.asarray(visible, bool).reshape(-1)
    if len(vis) != len(boxes):
        raise ValueError(f"{name}: {len(boxes)} boxes but {len(vis)} visibility flags")
    finite = np.isfinite(boxes).all(axis=1)
    vis = vis & finite & (np.nan_to_num(boxes[:, 2]) > 0) & (np.nan_to_num(boxes[:, 3]) > 0)
    return TrackRecord(name, frame_dir, frame_names, boxes, vis, is_image, video)


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
    return os.path.join(cache_dir(), f"{kind}-{digest}.npz")


def _save(path: str, records: List[TrackRecord]) -> None:
    meta = [{"name": r.name, "dir": r.frame_dir, "image": r.is_image, "video": r.video,
             "frames": (list(r.frame_names) if isinstance(r.frame_names, tuple) else
                        {"p": r.frame_names.prefix, "w": r.frame_names.width,
                         "s": r.frame_names.suffix, "start": r.frame_names.start})}
            for r in records]
    boxes = np.concatenate([r.boxes for r in records]) if records else np.zeros((0, 4), np.float32)
    visible = np.concatenate([r.visible for r in records]) if records else np.zeros(0, bool)
    lengths = np.asarray([len(r) for r in records], np.int64)
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, boxes=boxes, visible=visible, lengths=lengths,
             meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    os.replace(tmp, path)


def _load(path: str) -> List[TrackRecord]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(data["meta"].tobytes().decode())
        boxes, visible, lengths = data["boxes"], data["visible"], data["lengths"]
    ends = np.cumsum(lengths)
    records = []
    for m, end, n in zip(meta, ends, lengths):
        f = m["frames"]
        names = (tuple(f) if isinstance(f, list) else
                 NumberedFrames(f["p"], f["w"], f["s"], f["start"], int(n)))
        records.append(TrackRecord(m["name"], m["dir"], names, boxes[end - n:end],
                                   visible[end - n:end], bool(m["image"]),
                                   bool(m.get("video", False))))
    return records


def cached_index(kind: str, split: str, root: str, build: Callable[[], List[TrackRecord]],
                 use_cache: bool = True) -> List[TrackRecord]:
    """Return ``build()``'s records, reading/writing the cache file when ``use_cache``.

    A cache that cannot be written (read-only home) is skipped; a corrupt one is rebuilt.
    """
    if not use_cache:
        return build()
    path = _cache_path(kind, split, root)
    if os.path.isfile(path):
        try:
            return _load(path)
        except (OSError, ValueError, KeyError):
            pass  # corrupt or foreign: rebuild below
    records = build()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _save(path, records)
    except OSError:
        pass
    return records
