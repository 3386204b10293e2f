"""Video-file sequences: ``<root>/<sequence>/video.mp4`` + ``groundtruth_rect.txt`` [+ ``absent.txt``].

The layout of ``../shared/data/train`` (and of anyone's own clips): one folder per sequence with
a video OpenCV can decode (H.264 ``video.mp4`` there), one ``x,y,w,h`` line per video frame (line k
is frame k; OTB's 1-based values are kept raw, as every reader here does) and an optional
``absent.txt`` with ``1`` on frames where the target is not visible (their box is ``0,0,0,0``).
The video file may also be named ``video.avi``/``.mkv``/``.mov`` (:data:`~stmtrack_plugin.utils.video.VIDEO_NAMES`).

Every file is validated when the index is built: the box lines (errors name file and line), the
flags, and the number of frames, counted by decoding the video (the container's count is not
trusted; ~17 s for the 10,594 frames of the shared set, once: the index is cached). Boxes must lie
(at least partly) inside the frame. Frames are read with
:class:`~stmtrack_plugin.training.datasets.frames.VideoFrameReader` (sequential decoding).
``split`` is ignored ("all").
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._annotations import (AnnotationError, read_box_file,
                                                            read_flag_file)
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir
from stmtrack_plugin.training.datasets.frames import count_video_frames
from stmtrack_plugin.utils.video import VIDEO_NAMES

LAYOUT = "<root>/<sequence>/{video.mp4, groundtruth_rect.txt[, absent.txt]}"


def _video_size(path: str):
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok:
        raise ValueError(f"cannot decode the first frame of {path}")
    return frame.shape[1], frame.shape[0]


def load_video_sequence(folder: str) -> TrackRecord:
    """One record for a sequence folder (see the module docstring); raises naming the file."""
    video = next((os.path.join(folder, n) for n in VIDEO_NAMES
                  if os.path.isfile(os.path.join(folder, n))), None)
    gt = os.path.join(folder, "groundtruth_rect.txt")
    if video is None or not os.path.isfile(gt):
        raise FileNotFoundError(f"{folder}: expected {LAYOUT}")
    boxes = read_box_file(gt)
    frames = count_video_frames(video)
    if frames != len(boxes):
        raise AnnotationError(f"{gt}: {len(boxes)} box lines but {video} has {frames} frames")
    absent_file = os.path.join(folder, "absent.txt")
    absent = read_flag_file(absent_file, len(boxes)) if os.path.isfile(absent_file) else None
    width, height = _video_size(video)
    empty = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if absent is not None:
        bad = absent & ~empty
        if bad.any():
            k = int(bad.argmax()) + 1
            raise AnnotationError(f"{absent_file}:{k}: frame marked absent but {gt}:{k} has a box")
    outside = ~empty & ((boxes[:, 0] >= width) | (boxes[:, 1] >= height)
                        | (boxes[:, 0] + boxes[:, 2] <= 0) | (boxes[:, 1] + boxes[:, 3] <= 0))
    if outside.any():
        k = int(outside.argmax()) + 1
        raise AnnotationError(f"{gt}:{k}: box lies outside the {width}x{height} frame")
    visible = ~empty if absent is None else ~(absent | empty)
    return make_record(os.path.basename(os.path.normpath(folder)), os.path.abspath(video),
                       [str(i) for i in range(frames)], boxes, visible, video=True)


def load_video_sequences(root: str, split: str = "all", use_cache: bool = True) -> List[TrackRecord]:
    """One record per sequence folder of ``root`` that holds a video (sorted by name)."""
    require_dir(root, "video-sequence", LAYOUT)

    def build():
        records = []
        for name in sorted(os.listdir(root)):
            folder = os.path.join(root, name)
            if os.path.isdir(folder) and any(os.path.isfile(os.path.join(folder, n))
                                             for n in VIDEO_NAMES):
                records.append(load_video_sequence(folder))
        if not records:
            raise FileNotFoundError(f"no video sequences in {root}. Expected {LAYOUT}")
        return records

    return cached_index("video", split, root, build, use_cache)
