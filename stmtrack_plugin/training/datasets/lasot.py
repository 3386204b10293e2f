"""LaSOT reader (official layout).

::

    <root>/<class>/<class>-<k>/img/00000001.jpg ...
    <root>/<class>/<class>-<k>/groundtruth.txt     x,y,w,h per frame (comma-separated)
    <root>/<class>/<class>-<k>/full_occlusion.txt  0/1 per frame (optional)
    <root>/<class>/<class>-<k>/out_of_view.txt     0/1 per frame (optional)
    <root>/training_set.txt, testing_set.txt       sequence names (needed for split train/test)

``split="all"`` uses every sequence; ``train``/``test`` need the official list file.
Frames flagged fully occluded or out of view are marked invisible.
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._files import image_names, read_flags, read_lines
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir
from stmtrack_plugin.utils.sequences import read_boxes

LAYOUT = "<root>/<class>/<class>-<k>/{img/00000001.jpg..., groundtruth.txt}"


def _read_sequence(folder: str, name: str) -> TrackRecord:
    boxes = read_boxes(os.path.join(folder, "groundtruth.txt"))
    img_dir = os.path.join(folder, "img")
    frames = image_names(img_dir)
    if len(frames) != len(boxes):
        raise ValueError(f"LaSOT sequence {folder}: {len(frames)} frames but {len(boxes)} boxes")
    visible = None
    for flag_file in ("full_occlusion.txt", "out_of_view.txt"):
        flags = read_flags(os.path.join(folder, flag_file), len(frames))
        if flags is not None:
            visible = ~flags if visible is None else visible & ~flags
    return make_record(name, img_dir, frames, boxes, visible)


def _all_sequences(root: str) -> List[str]:
    names = []
    for cls in sorted(os.listdir(root)):
        cls_dir = os.path.join(root, cls)
        if os.path.isdir(cls_dir):
            names += sorted(d for d in os.listdir(cls_dir)
                            if os.path.isfile(os.path.join(cls_dir, d, "groundtruth.txt")))
    return names


def load_lasot(root: str, split: str = "all", use_cache: bool = True) -> List[TrackRecord]:
    """Records of LaSOT: ``split`` is ``all``, ``train`` or ``test`` (list files in the root)."""
    require_dir(root, "LaSOT", LAYOUT)
    if split not in ("all", "train", "test"):
        raise ValueError(f"LaSOT split must be all, train or test, got {split!r}")

    def build():
        if split == "all":
            names = _all_sequences(root)
        else:
            list_file = os.path.join(root, f"{'training' if split == 'train' else 'testing'}_set.txt")
            if not os.path.isfile(list_file):
                raise FileNotFoundError(f"LaSOT split {split!r} needs {list_file} (the official "
                                        "split list); use split 'all' to train on every sequence")
            names = read_lines(list_file)
        if not names:
            raise FileNotFoundError(f"LaSOT: no sequences in {root}. Expected {LAYOUT}")
        return [_read_sequence(os.path.join(root, n.rsplit("-", 1)[0], n), n) for n in names]

    return cached_index("lasot", split, root, build, use_cache)
