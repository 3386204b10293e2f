"""TrackingNet reader (official layout).

::

    <root>/TRAIN_0/anno/<video>.txt       x,y,w,h per frame
    <root>/TRAIN_0/frames/<video>/0.jpg, 1.jpg, ...
    ... TRAIN_1 .. TRAIN_11 (and TEST)

``split="train"`` uses every ``TRAIN_*`` chunk present; a comma list (``"TRAIN_0,TRAIN_3"``)
picks chunks.
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._files import natural_key
from stmtrack_plugin.training.datasets.base import (NumberedFrames, TrackRecord, cached_index,
                                                    make_record, require_dir)
from stmtrack_plugin.utils.sequences import read_boxes

LAYOUT = "<root>/TRAIN_<k>/{anno/<video>.txt, frames/<video>/0.jpg...}"


def _chunks(root: str, split: str) -> List[str]:
    if split == "train":
        chunks = sorted((d for d in os.listdir(root) if d.startswith("TRAIN_")), key=natural_key)
    else:
        chunks = [c.strip() for c in split.split(",") if c.strip()]
    if not chunks:
        raise FileNotFoundError(f"TrackingNet: no TRAIN_* chunk in {root}. Expected {LAYOUT}")
    for chunk in chunks:
        require_dir(os.path.join(root, chunk, "anno"), "TrackingNet chunk", LAYOUT)
    return chunks


def _read_chunk(root: str, chunk: str) -> List[TrackRecord]:
    anno_dir = os.path.join(root, chunk, "anno")
    records = []
    for anno in sorted((f for f in os.listdir(anno_dir) if f.endswith(".txt")), key=natural_key):
        video = anno[:-4]
        boxes = read_boxes(os.path.join(anno_dir, anno))
        frame_dir = os.path.join(root, chunk, "frames", video)
        names = NumberedFrames("", 0, ".jpg", 0, len(boxes))
        if not os.path.isfile(os.path.join(frame_dir, names[-1])):
            raise FileNotFoundError(f"TrackingNet {chunk}/{video}: {len(boxes)} boxes but frame "
                                    f"{os.path.join(frame_dir, names[-1])} is missing")
        records.append(make_record(f"{chunk}/{video}", frame_dir, names, boxes))
    return records


def load_trackingnet(root: str, split: str = "train", use_cache: bool = True) -> List[TrackRecord]:
    """Records of the TrackingNet chunks named by ``split``."""
    require_dir(root, "TrackingNet", LAYOUT)
    chunks = _chunks(root, split)

    def build():
        return [r for chunk in chunks for r in _read_chunk(root, chunk)]

    return cached_index("trackingnet", split, root, build, use_cache)
