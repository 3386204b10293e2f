"""Still photos with boxes: ``<root>/img/<name>.jpg`` + ``<root>/boxes.json``.

The layout of ``../shared/data/images``: ``boxes.json`` maps an image name (the file name, or
the name without ``.jpg``, which is then added) to
``[[x, y, w, h, "class"], ...]`` (0-based top-left, pixels of the saved image). Every box becomes a
one-frame record with ``is_image=True``, so the pair sampler makes static-image pairs from it as
the authors' recipe does from ImageNet DET and COCO: memory and query crops are the same photo
under independent random shifts and scales (and negatives pair it with another object).

The JSON is validated entry by entry (names must be plain file names inside ``img/``; boxes
finite with w, h > 0; errors name the file and entry) and each box is checked against its image's
size, read from the image once when the index is built (the index is cached). ``split`` is
ignored ("all").
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._annotations import AnnotationError, read_image_boxes
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir
from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import IMAGE_EXTS

LAYOUT = "<root>/{img/<name>.jpg, boxes.json}"


def load_still_images(root: str, split: str = "all", use_cache: bool = True) -> List[TrackRecord]:
    """One still-image record per box of ``boxes.json``, in file-name order."""
    require_dir(root, "still-image", LAYOUT)
    anno = os.path.join(root, "boxes.json")
    image_dir = require_dir(os.path.join(root, "img"), "still-image folder", LAYOUT)
    if not os.path.isfile(anno):
        raise FileNotFoundError(f"still-image boxes not found: {anno}. Expected {LAYOUT}")

    def build():
        records = []
        for name, boxes in sorted(read_image_boxes(anno).items()):
            file_name = name if os.path.splitext(name)[1].lower() in IMAGE_EXTS else name + ".jpg"
            path = os.path.join(image_dir, file_name)
            if not os.path.isfile(path):
                raise AnnotationError(f"{anno}: entry {name!r}: image not found: {path}")
            height, width = read_image_bgr(path).shape[:2]
            for k, (x, y, w, h, cls) in enumerate(boxes):
                if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
                    raise AnnotationError(f"{anno}: entry {name!r}, box {k}: {[x, y, w, h]} "
                                          f"exceeds the {width}x{height} image")
                records.append(make_record(f"{name}#{k}:{cls}", image_dir, [file_name],
                                           [[x, y, w, h]], is_image=True))
        if not records:
            raise FileNotFoundError(f"no boxes in {anno}")
        return records

    return cached_index("still_images", split, root, build, use_cache)
