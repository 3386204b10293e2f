"""GOT-10k reader (official layout).

::

    <root>/train/list.txt                      sequence names, one a line (optional)
    <root>/train/GOT-10k_Train_000001/00000001.jpg ...
    <root>/train/GOT-10k_Train_000001/groundtruth.txt   x,y,w,h per frame (0-based pixels)
    <root>/train/GOT-10k_Train_000001/absence.label     1 where the target is absent (optional)

``root`` may also be the split folder itself. Test-split sequences have only the first box and
cannot be used for training.
"""
from __future__ import annotations

import os
from typing import List

from stmtrack_plugin.training.datasets._files import image_names, read_flags, read_lines
from stmtrack_plugin.training.datasets.base import TrackRecord, cached_index, make_record, require_dir
from stmtrack_plugin.utils.sequences import read_boxes

LAYOUT = "<root>/<split>/<sequence>/{00000001.jpg,..., groundtruth.txt}"


def _split_dir(root: str, split: str) -> str:
    require_dir(root, "GOT-10k", LAYOUT)
    candidate = os.path.join(root, split)
    if os.path.isdir(candidate):
        return candidate
    if os.path.isfile(os.path.join(root, "list.txt")) or any(
            os.path.isfile(os.path.join(root, d, "groundtruth.txt")) for d in os.listdir(root)):
        return root  # the split folder itself
    raise FileNotFoundError(f"GOT-10k: no '{split}' folder and no sequences in {root}. "
                            f"Expected {LAYOUT}")


def _read_sequence(folder: str, name: str) -> TrackRecord:
    boxes = read_boxes(os.path.join(folder, "groundtruth.txt"))
    frames = image_names(folder)
    if len(frames) != len(boxes):
        raise ValueError(f"GOT-10k sequence {folder}: {len(frames)} frames but {len(boxes)} boxes "
                         "(test-split sequences cannot be used for training)")
    absent = read_flags(os.path.join(folder, "absence.label"), len(frames))
    return make_record(name, folder, frames, boxes, None if absent is None else ~absent)


def load_got10k(root: str, split: str = "train", use_cache: bool = True) -> List[TrackRecord]:
    """Records of one GOT-10k split (``train`` or ``val``)."""
    folder = _split_dir(root, split)

    def build():
        list_file = os.path.join(folder, "list.txt")
        if os.path.isfile(list_file):
            names = read_lines(list_file)
        else:
            names = sorted(d for d in os.listdir(folder)
                           if os.path.isfile(os.path.join(folder, d, "groundtruth.txt")))
        if not names:
            raise FileNotFoundError(f"GOT-10k: no sequences in {folder}. Expected {LAYOUT}")
        return [_read_sequence(os.path.join(folder, n), n) for n in names]

    return cached_index("got10k", split, folder, build, use_cache)
