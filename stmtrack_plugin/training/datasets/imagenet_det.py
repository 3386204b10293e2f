"""ImageNet DET reader (ILSVRC layout): every object box is a one-frame still-image record.

::

    <root>/Data/DET/train/<subfolders>/<image>.JPEG
    <root>/Annotations/DET/train/<subfolders>/<image>.xml

Images without objects are skipped. ``split`` is ``train`` or ``val``.
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._files import natural_key
from stmtrack_plugin.training.datasets._voc import read_voc_objects
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir

LAYOUT = "<root>/{Data,Annotations}/DET/<split>/.../<image>.{JPEG,xml}"


def load_imagenet_det(root: str, split: str = "train", use_cache: bool = True) -> List[TrackRecord]:
    """One record per annotated object of ImageNet DET ``split``."""
    require_dir(root, "ImageNet DET", LAYOUT)
    anno_root = require_dir(os.path.join(root, "Annotations", "DET", split), "ImageNet DET", LAYOUT)
    data_root = require_dir(os.path.join(root, "Data", "DET", split), "ImageNet DET", LAYOUT)

    def build():
        records = []
        for folder, _dirs, files in sorted(os.walk(anno_root)):
            rel = os.path.relpath(folder, anno_root)
            for xml in sorted((f for f in files if f.endswith(".xml")), key=natural_key):
                image = xml[:-4] + ".JPEG"
                for k, (_tid, box) in enumerate(read_voc_objects(os.path.join(folder, xml))):
                    records.append(make_record(f"{rel}/{xml[:-4]}#{k}",
                                               os.path.join(data_root, rel), [image], [box],
                                               is_image=True))
        if not records:
            raise FileNotFoundError(f"ImageNet DET: no annotated objects under {anno_root}")
        return records

    return cached_index("imagenet_det", split, root, build, use_cache)
