"""Frame sources for the command line: a video file, a frame folder or an OTB sequence folder,
read lazily (one frame at a time, so long videos need no memory), and annotated output."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy as np

from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import list_frames, load_otb_sequence, read_boxes, split_target


@dataclass
class FrameSource:
    """``name``; ``count`` frames (may be an estimate for videos: None when unknown); the
    sequence's ground truth (N, 4) xywh when the folder has one; ``frames()`` yields HxWx3 uint8
    BGR arrays in order."""

    name: str
    count: Optional[int]
    groundtruth: Optional[np.ndarray]
    _paths: Optional[List[str]] = None
    _video: Optional[str] = None

    def frame_label(self, index: int) -> str:
        """``frame <n> (<file>)`` for frame ``index`` (0-based), for error messages."""
        if self._paths is not None and index < len(self._paths):
            return f"frame {index + 1} ({self._paths[index]})"
        return f"frame {index + 1} of {self._video or self.name}"

    def frames(self) -> Iterator[np.ndarray]:
        """Frames in order; raises ``ValueError`` naming a frame that cannot be read (a corrupt
        image, or a video frame that fails to decode before the end of the stream)."""
        if self._paths is not None:
            for path in self._paths:
                yield read_image_bgr(path)
            return
        import cv2

        cap = cv2.VideoCapture(self._video)
        try:
            index = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    # end of stream, unless more frames decode after this one (a corrupt frame)
                    if self.count is not None and index < self.count and cap.grab():
                        raise ValueError(f"could not decode {self.frame_label(index)}")
                    break
                yield frame
                index += 1
        finally:
            cap.release()


#: file names of the video in a video-file sequence folder (``video.mp4`` + ``groundtruth_rect.txt``
#: [+ ``absent.txt``], the layout of ``../shared/data/train``), in the order they are looked for
VIDEO_NAMES = ("video.mp4", "video.avi", "video.mkv", "video.mov")


def sequence_video(folder: str) -> Optional[str]:
    """The video of a video-file sequence folder (no ``img/``; one of :data:`VIDEO_NAMES`), or None."""
    if os.path.isdir(os.path.join(folder, "img")):
        return None
    return next((os.path.join(folder, n) for n in VIDEO_NAMES
                 if os.path.isfile(os.path.join(folder, n))), None)


def open_source(path: str) -> FrameSource:
    """A folder with ``img/`` or a ground-truth file is an OTB/GOT-style sequence (``<root>/
    Jogging-2``: target 2 of a multi-target folder), or, with a video file instead of ``img/``
    (:func:`sequence_video`), a video-file sequence whose ``groundtruth_rect.txt`` has a line
    per video frame; any other folder is a frame folder (sorted naturally); a file is a video
    read with OpenCV."""
    path = os.fspath(path)
    name = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    base, target = split_target(os.path.basename(os.path.normpath(path)))
    if not os.path.exists(path) and target is not None and os.path.isfile(os.path.join(
            os.path.dirname(os.path.normpath(path)), base, f"groundtruth_rect.{target}.txt")):
        seq = load_otb_sequence(path)  # <root>/Jogging-2: target 2 of <root>/Jogging
        return FrameSource(seq.name, len(seq), seq.groundtruth, _paths=list(seq.frames))
    video = sequence_video(path) if os.path.isdir(path) else None
    if video is not None:
        source = open_source(video)
        gt_file = os.path.join(path, "groundtruth_rect.txt")
        gt = read_boxes(gt_file) if os.path.isfile(gt_file) else None
        # (the container's frame count is an estimate: a length mismatch is reported where
        # the boxes are scored, against the frames actually decoded)
        return FrameSource(name, source.count, gt, _video=source._video)
    if os.path.isdir(path):
        markers = ("img", "groundtruth_rect.txt", "groundtruth.txt")
        if any(os.path.exists(os.path.join(path, m)) for m in markers):
            seq = load_otb_sequence(path)
            return FrameSource(seq.name, len(seq), seq.groundtruth, _paths=list(seq.frames))
        paths = list_frames(path)
        return FrameSource(name, len(paths), None, _paths=paths)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such video file or frame folder: {path}")
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ValueError(f"OpenCV cannot open {path} as a video (corrupt or unsupported codec?)")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return FrameSource(name, count if count > 0 else None, None, _video=path)


def draw_box(frame: np.ndarray, box, colour, thickness: int = 2) -> None:
    """Draw an ``[x, y, w, h]`` box in place (skipped when it has a NaN)."""
    import cv2

    if not np.all(np.isfinite(box)):
        return
    x, y, w, h = box
    cv2.rectangle(frame, (int(round(x)), int(round(y))), (int(round(x + w - 1)), int(round(y + h - 1))),
                  colour, thickness)


class Annotator:
    """Writes annotated frames to a video file (mp4v) or to numbered JPEGs in a folder."""

    def __init__(self, video: Optional[str] = None, folder: Optional[str] = None, fps: float = 25.0):
        self.video, self.folder, self.fps = video, folder, fps
        self._writer = None
        self._index = 0
        if folder:
            os.makedirs(folder, exist_ok=True)

    def add(self, frame: np.ndarray, box, gt_box=None, text: str = "") -> None:
        import cv2

        out = frame.copy()
        if gt_box is not None:
            draw_box(out, gt_box, (0, 0, 255), 1)
        draw_box(out, box, (0, 255, 0), 2)
        if text:
            cv2.putText(out, text, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
        if self.video:
            if self._writer is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.video)), exist_ok=True)
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                self._writer = cv2.VideoWriter(self.video, fourcc, self.fps,
                                               (out.shape[1], out.shape[0]))
                if not self._writer.isOpened():
                    raise ValueError(f"OpenCV cannot write the video {self.video}")
            self._writer.write(out)
        if self.folder:
            cv2.imwrite(os.path.join(self.folder, f"{self._index + 1:06d}.jpg"), out)
        self._index += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
