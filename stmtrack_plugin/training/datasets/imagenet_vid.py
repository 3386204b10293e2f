"""ImageNet VID reader (ILSVRC2015 layout): one record per (snippet, track id).

::

    <root>/Data/VID/train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000/000000.JPEG
    <root>/Annotations/VID/train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000/000000.xml

Frames where a track id has no box are marked invisible. ``split`` is ``train`` or ``val``.
Reading the million XML files takes a while once; the index cache makes later starts fast.
"""
from __future__ import annotations

import os
from typing import Dict, List

import numpy as np

from stmtrack_plugin.training.datasets._files import natural_key
from stmtrack_plugin.training.datasets._voc import read_voc_objects
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir

LAYOUT = "<root>/{Data,Annotations}/VID/<split>/.../<snippet>/{000000.JPEG, 000000.xml}"


def _snippet_dirs(anno_root: str) -> List[str]:
    """Folders below ``anno_root`` that directly contain .xml files (sorted)."""
    found = []
    for folder, _dirs, files in os.walk(anno_root):
        if any(f.endswith(".xml") for f in files):
            found.append(folder)
    return sorted(found, key=natural_key)


def _read_snippet(anno_dir: str, data_dir: str, name: str) -> List[TrackRecord]:
    xmls = sorted((f for f in os.listdir(anno_dir) if f.endswith(".xml")), key=natural_key)
    frames = [x[:-4] + ".JPEG" for x in xmls]
    tracks: Dict[str, np.ndarray] = {}
    for i, xml in enumerate(xmls):
        for track_id, box in read_voc_objects(os.path.join(anno_dir, xml)):
            boxes = tracks.setdefault(track_id, np.full((len(xmls), 4), np.nan, np.float32))
            boxes[i] = box
    return [make_record(f"{name}/{tid}", data_dir, frames, np.nan_to_num(b, nan=0.0),
                        np.isfinite(b).all(axis=1)) for tid, b in sorted(tracks.items())]


def load_imagenet_vid(root: str, split: str = "train", use_cache: bool = True) -> List[TrackRecord]:
    """Records of ImageNet VID ``train`` or ``val``."""
    require_dir(root, "ImageNet VID", LAYOUT)
    anno_root = require_dir(os.path.join(root, "Annotations", "VID", split), "ImageNet VID", LAYOUT)
    data_root = require_dir(os.path.join(root, "Data", "VID", split), "ImageNet VID", LAYOUT)

    def build():
        records = []
        for anno_dir in _snippet_dirs(anno_root):
            rel = os.path.relpath(anno_dir, anno_root)
            records += _read_snippet(anno_dir, os.path.join(data_root, rel), rel)
        if not records:
            raise FileNotFoundError(f"ImageNet VID: no annotated objects under {anno_root}")
        return records

    return cached_index("imagenet_vid", split, root, build, use_cache)
