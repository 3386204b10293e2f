"""Strict parsers for untrusted annotation files: every error names the file and the line/entry.

These run before a value sizes or drives anything (array sizes, frame reads, crops).
"""
from __future__ import annotations

import json
import math
import os
import re
from typing import Dict, List, Tuple

import numpy as np

_SEP = re.compile(r"[,\s]+")


class AnnotationError(ValueError):
    """An annotation file that cannot be trusted: names the file and where."""


def read_box_file(path: str, absent_allowed: bool = True) -> np.ndarray:
    """``x,y,w,h`` per line (commas, tabs or spaces) -> (N, 4) float32.

    Each line must hold exactly four finite numbers with ``w, h >= 0``; ``0,0,0,0`` (an absent
    frame, when ``absent_allowed``) is the only box with ``w == 0`` or ``h == 0``. Blank lines are
    errors too: line k of the file is frame k.
    """
    with open(path, encoding="utf-8", errors="strict") as f:
        lines = f.read().splitlines()
    while lines and not lines[-1].strip():  # a trailing newline is fine
        lines.pop()
    if not lines:
        raise AnnotationError(f"{path}: no boxes")
    boxes = np.zeros((len(lines), 4), np.float32)
    for k, line in enumerate(lines, 1):
        fields = [v for v in _SEP.split(line.strip()) if v]
        if len(fields) != 4:
            raise AnnotationError(f"{path}:{k}: expected 4 numbers x,y,w,h, got {line.strip()!r}")
        try:
            values = [float(v) for v in fields]
        except ValueError:
            raise AnnotationError(f"{path}:{k}: not a number in {line.strip()!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise AnnotationError(f"{path}:{k}: non-finite value in {line.strip()!r}")
        x, y, w, h = values
        empty = values == [0.0, 0.0, 0.0, 0.0]
        if (w <= 0 or h <= 0) and not (empty and absent_allowed):
            raise AnnotationError(f"{path}:{k}: box {line.strip()!r} has w or h <= 0 "
                                  "(only 0,0,0,0 marks an absent target)")
        boxes[k - 1] = values
    return boxes


def read_flag_file(path: str, length: int) -> np.ndarray:
    """One 0/1 per line (or separated by commas) -> (length,) bool; other values are errors."""
    with open(path, encoding="utf-8", errors="strict") as f:
        text = f.read()
    values: List[Tuple[int, str]] = []
    for k, line in enumerate(text.splitlines(), 1):
        values += [(k, v) for v in _SEP.split(line.strip()) if v]
    flags = np.zeros(len(values), bool)
    for i, (k, v) in enumerate(values):
        if v not in ("0", "1"):
            raise AnnotationError(f"{path}:{k}: expected 0 or 1, got {v!r}")
        flags[i] = v == "1"
    if len(flags) != length:
        raise AnnotationError(f"{path}: {len(flags)} flags for {length} frames")
    return flags


def read_image_boxes(path: str) -> Dict[str, List[Tuple[float, float, float, float, str]]]:
    """``{image file name: [[x, y, w, h, "class"], ...]}`` (JSON) with every entry checked.

    Names must be plain file names (no folders, no ``..``); boxes four finite numbers with
    ``w, h > 0`` and a class string.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected an object {{image name: [boxes]}}, "
                              f"got {type(data).__name__}")
    out = {}
    for name, boxes in data.items():
        where = f"{path}: entry {name!r}"
        if (not name or os.path.basename(name) != name or name in (".", "..")
                or "\\" in name or "\0" in name):
            raise AnnotationError(f"{where}: not a plain image file name")
        if not isinstance(boxes, list):
            raise AnnotationError(f"{where}: expected a list of boxes")
        checked = []
        for i, box in enumerate(boxes):
            ok = (isinstance(box, list) and len(box) == 5 and isinstance(box[4], str)
                  and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                          and math.isfinite(v) for v in box[:4]))
            if not ok or box[2] <= 0 or box[3] <= 0:
                raise AnnotationError(f"{where}, box {i}: expected [x, y, w, h, \"class\"] with "
                                      f"finite numbers and w, h > 0, got {box!r}")
            checked.append((float(box[0]), float(box[1]), float(box[2]), float(box[3]), box[4]))
        out[name] = checked
    return out
