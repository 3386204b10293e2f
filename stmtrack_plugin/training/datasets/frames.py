"""Reading a record's frame: an image file, or frame ``i`` of a video file (decoded on demand).

Video frames are decoded **sequentially** with OpenCV and never by seeking: a seek in H.264
(``CAP_PROP_POS_FRAMES``) lands on a key frame and is frame-exact only for well-behaved files,
and a frame that is off by one silently breaks the box it is paired with. Costs and caching:

* one decoder is kept open per video (the ``max_open`` most recently used ones); reading frame
  ``i`` at or after the decoder's position skips forward with ``grab()`` (no colour conversion,
  ~1.6 ms per 640x360 frame on one core here), reading an earlier frame re-opens the video and
  decodes from frame 0;
* the ``cache_frames`` most recently decoded frames are kept (a training sample reads T + 1
  frames within ``max_gap`` of each other; :meth:`VideoFrameReader.read_many` decodes them in
  ascending order in one pass).

So a sample costs up to one pass over the start of its video (about 0.3 s for a 600-frame
video), and consecutive samples from one video cost little. Decoding every video once into
uint8 ``.npy`` files would make access free but needs ~7 GB for the 10,594 frames of the
shared training set (long side 640), 170 x the videos; with a frozen trunk the training recipe
caches crop features instead, so each frame is decoded only a few times anyway.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Iterable, List, Tuple

import numpy as np

from stmtrack_plugin.training.datasets.base import TrackRecord
from stmtrack_plugin.utils.io import read_image_bgr


class VideoFrameReader:
    """Random access to video frames by index via sequential decoding, with a small LRU cache.

    Not shared between processes: each DataLoader worker gets its own (decoders are not
    pickled; they reopen on first use).
    """

    def __init__(self, cache_frames: int = 16, max_open: int = 4):
        self.cache_frames = int(cache_frames)
        self.max_open = int(max_open)
        self._frames: "OrderedDict[Tuple[str, int], np.ndarray]" = OrderedDict()
        self._open: "OrderedDict[str, list]" = OrderedDict()  # path -> [capture, next index]
        self.decoded = 0  # frames decoded or skipped, for tests and benchmarks

    def __getstate__(self):
        return {"cache_frames": self.cache_frames, "max_open": self.max_open}

    def __setstate__(self, state):
        self.__init__(state["cache_frames"], state["max_open"])

    def close(self) -> None:
        for cap, _ in self._open.values():
            cap.release()
        self._open.clear()

    def _capture(self, path: str, index: int):
        import cv2

        entry = self._open.get(path)
        if entry is None or entry[1] > index:
            if entry is not None:
                entry[0].release()
            cap = cv2.VideoCapture(path)
            if not cap.isOpened():
                raise ValueError(f"cannot open video (missing, or not a video OpenCV decodes): {path}")
            entry = [cap, 0]
        self._open[path] = entry
        self._open.move_to_end(path)
        while len(self._open) > self.max_open:
            _, (old, _) = self._open.popitem(last=False)
            old.release()
        return entry

    def read(self, path: str, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) of video ``path`` as HxWx3 uint8 BGR; raises past the end."""
        key = (path, int(index))
        if key in self._frames:
            self._frames.move_to_end(key)
            return self._frames[key]
        entry = self._capture(path, index)
        cap = entry[0]
        while entry[1] < index:
            if not cap.grab():
                raise ValueError(f"{path}: video ends at frame {entry[1]}, frame {index} requested")
            entry[1] += 1
            self.decoded += 1
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ValueError(f"{path}: cannot decode frame {index} (video ends or is corrupt)")
        entry[1] += 1
        self.decoded += 1
        self._frames[key] = frame
        while len(self._frames) > self.cache_frames:
            self._frames.popitem(last=False)
        return frame

    def read_many(self, path: str, indices: Iterable[int]) -> Dict[int, np.ndarray]:
        """Several frames of one video, decoded in ascending order (one forward pass)."""
        return {i: self.read(path, i) for i in sorted(set(int(i) for i in indices))}


def count_video_frames(path: str) -> int:
    """Number of frames of a video, counted by decoding (the container's frame count is metadata
    and may be wrong). Raises if OpenCV cannot open the file."""
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ValueError(f"cannot open video (missing, or not a video OpenCV decodes): {path}")
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def read_record_frames(requests: Iterable[Tuple[TrackRecord, int]],
                       reader: VideoFrameReader) -> List[np.ndarray]:
    """HxWx3 uint8 BGR frames for ``(record, index)`` pairs, in request order.

    Image records read their files (each file once); video records go through ``reader``, the
    frames of one video decoded in ascending order.
    """
    requests = list(requests)
    by_video: Dict[str, set] = {}
    for rec, idx in requests:
        if rec.video:
            by_video.setdefault(rec.frame_dir, set()).add(int(idx))
    decoded = {path: reader.read_many(path, idx) for path, idx in by_video.items()}
    files: Dict[str, np.ndarray] = {}
    out = []
    for rec, idx in requests:
        if rec.video:
            out.append(decoded[rec.frame_dir][int(idx)])
        else:
            path = rec.frame_path(idx)
            if path not in files:
                files[path] = read_image_bgr(path)
            out.append(files[path])
    return out
