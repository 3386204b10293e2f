"""COCO reader (official layout): every non-crowd instance is a one-frame still-image record.

::

    <root>/annotations/instances_train2017.json
    <root>/train2017/000000000009.jpg ...

``split`` names the image folder and the annotation file (``train2017``, ``val2017``).
"""
from __future__ import annotations

import json
import os
from typing import List

from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir

LAYOUT = "<root>/{annotations/instances_<split>.json, <split>/<image>.jpg}"


def load_coco(root: str, split: str = "train2017", use_cache: bool = True) -> List[TrackRecord]:
    """One record per non-crowd COCO instance with a positive-size box."""
    require_dir(root, "COCO", LAYOUT)
    if split == "train":
        split = "train2017"
    anno_file = os.path.join(root, "annotations", f"instances_{split}.json")
    if not os.path.isfile(anno_file):
        raise FileNotFoundError(f"COCO annotation file not found: {anno_file}. Expected {LAYOUT}")
    image_dir = require_dir(os.path.join(root, split), "COCO image folder", LAYOUT)

    def build():
        with open(anno_file) as f:
            data = json.load(f)
        files = {img["id"]: img["file_name"] for img in data["images"]}
        records = []
        for ann in data["annotations"]:
            if ann.get("iscrowd", 0):
                continue
            records.append(make_record(f"{split}/{ann['id']}", image_dir, [files[ann["image_id"]]],
                                       [ann["bbox"]], is_image=True))
        return [r for r in records if r.visible.all()]

    return cached_index("coco", split, root, build, use_cache)
