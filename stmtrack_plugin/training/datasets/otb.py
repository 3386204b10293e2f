"""OTB-layout folders (the shared data): ``<root>/<seq>/img/*.jpg`` + ``groundtruth_rect.txt``.

Frames listed in ``absent.txt`` (value 1) are invisible. ``split`` is ignored ("all").
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir
from stmtrack_plugin.utils.sequences import load_otb_sequence

LAYOUT = "<root>/<sequence>/{img/0001.jpg..., groundtruth_rect.txt}"


def load_otb(root: str, split: str = "all", use_cache: bool = True) -> List[TrackRecord]:
    """One record per sequence folder that has ground truth."""
    require_dir(root, "OTB-layout", LAYOUT)

    def build():
        records = []
        for name in sorted(os.listdir(root)):
            folder = os.path.join(root, name)
            if not any(os.path.isfile(os.path.join(folder, g))
                       for g in ("groundtruth_rect.txt", "groundtruth.txt")):
                continue
            seq = load_otb_sequence(folder)
            frame_dir = os.path.dirname(seq.frames[0])
            visible = None if seq.absent is None else ~seq.absent
            records.append(make_record(name, frame_dir, [os.path.basename(f) for f in seq.frames],
                                       seq.groundtruth, visible))
        if not records:
            raise FileNotFoundError(f"no OTB-layout sequences in {root}. Expected {LAYOUT}")
        return records

    return cached_index("otb", split, root, build, use_cache)
