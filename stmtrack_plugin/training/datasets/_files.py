"""Small file helpers shared by the dataset readers."""
from __future__ import annotations

import os
import re
from typing import List, Optional

import numpy as np

from stmtrack_plugin.utils.sequences import IMAGE_EXTS


def natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def image_names(folder: str) -> List[str]:
    """Image file names of ``folder`` in natural order (no paths); [] if there are none."""
    return sorted((n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS)), key=natural_key)


def read_flags(path: str, length: int) -> Optional[np.ndarray]:
    """0/1 flags (one per frame, separated by commas or newlines) as bool, or None if no file."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        values = [int(float(v)) for v in re.split(r"[,\s]+", f.read().strip()) if v]
    if len(values) != length:
        raise ValueError(f"{path}: {len(values)} flags for {length} frames")
    return np.asarray(values, dtype=bool)


def read_lines(path: str) -> List[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]
