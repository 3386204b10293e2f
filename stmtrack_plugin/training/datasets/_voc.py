"""PASCAL-VOC style XML annotations as used by ImageNet VID and DET."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import List, Tuple


def read_voc_objects(path: str) -> List[Tuple[str, List[float]]]:
    """``[(trackid or "", [x, y, w, h]), ...]`` for every object of one XML file.

    Boxes use the authors' "+1" convention: w = xmax - xmin + 1.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"cannot parse annotation {path}: {exc}") from None
    objects = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        if box is None:
            continue
        x0, y0 = float(box.findtext("xmin")), float(box.findtext("ymin"))
        x1, y1 = float(box.findtext("xmax")), float(box.findtext("ymax"))
        objects.append(((obj.findtext("trackid") or "").strip(), [x0, y0, x1 - x0 + 1, y1 - y0 + 1]))
    return objects
