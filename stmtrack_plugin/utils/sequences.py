"""Reading tracking sequences and box files (OTB layout and plain frame folders)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_boxes(path: str) -> np.ndarray:
    """Read an (N, 4) float64 array of boxes from a text file.

    Accepts comma, tab, semicolon or space separators (OTB files mix them). Lines with 8 values
    (VOT polygons) become their axis-aligned bounding box. Empty lines are skipped. ``NaN`` is kept.
    """
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = [p for p in re.split(r"[,\t; ]+", line) if p]
            try:
                vals = [float(p) for p in parts]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: not a list of numbers: {line!r}") from None
            if len(vals) == 4:
                rows.append(vals)
            elif len(vals) >= 6 and len(vals) % 2 == 0:
                xs, ys = vals[0::2], vals[1::2]
                rows.append([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
            else:
                raise ValueError(f"{path}:{lineno}: expected 4 values (x,y,w,h) or a polygon, "
                                 f"got {len(vals)}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def list_frames(folder: str) -> List[str]:
    """Sorted image files of a folder (natural order: 2.jpg before 10.jpg)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"frame folder not found: {folder}")
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS)]
    if not names:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTS)}) in {folder}")

    def key(name):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

    return [os.path.join(folder, n) for n in sorted(names, key=key)]


@dataclass(frozen=True)
class Sequence:
    """A sequence on disk: frame paths and, when known, (N, 4) xywh ground truth."""

    name: str
    frames: List[str]
    groundtruth: Optional[np.ndarray] = None
    absent: Optional[np.ndarray] = None  # (N,) bool, True where the target is not visible

    def __len__(self) -> int:
        return len(self.frames)


def load_otb_sequence(folder: str) -> Sequence:
    """Load ``<folder>/img/*.jpg`` + ``groundtruth_rect.txt`` (+ optional ``absent.txt``).

    Also accepts frames directly in ``folder`` and ``groundtruth.txt`` (GOT-10k/VOT style).
    The ground truth must have one line per frame.
    """
    folder = os.fspath(folder)
    img_dir = os.path.join(folder, "img")
    frames = list_frames(img_dir if os.path.isdir(img_dir) else folder)
    gt = None
    for name in ("groundtruth_rect.txt", "groundtruth.txt"):
        if os.path.isfile(os.path.join(folder, name)):
            gt = read_boxes(os.path.join(folder, name))
            break
    if gt is not None and len(gt) != len(frames):
        raise ValueError(f"{folder}: {len(frames)} frames but {len(gt)} ground-truth boxes")
    absent = None
    if os.path.isfile(os.path.join(folder, "absent.txt")):
        absent = np.loadtxt(os.path.join(folder, "absent.txt"), dtype=np.int64).reshape(-1) > 0
    return Sequence(os.path.basename(os.path.normpath(folder)), frames, gt, absent)
