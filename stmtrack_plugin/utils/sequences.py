"""Reading tracking sequences and box files (OTB layout and plain frame folders)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_boxes(path: str) -> np.ndarray:
    """Read an (N, 4) float64 array of boxes from a text file.

    Accepts comma, tab, semicolon or space separators (OTB files mix them). Lines with 8 values
    (VOT polygons) become their axis-aligned bounding box. Empty lines are skipped. ``NaN`` is kept.
    """
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = [p for p in re.split(r"[,\t; ]+", line) if p]
            try:
                vals = [float(p) for p in parts]
            except ValueError:
                raise ValueError(f"{path}:{lineno}: not a list of numbers: {line!r}") from None
            if len(vals) == 4:
                rows.append(vals)
            elif len(vals) >= 6 and len(vals) % 2 == 0:
                xs, ys = vals[0::2], vals[1::2]
                rows.append([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])
            else:
                raise ValueError(f"{path}:{lineno}: expected 4 values (x,y,w,h) or a polygon, "
                                 f"got {len(vals)}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def list_frames(folder: str) -> List[str]:
    """Sorted image files of a folder (natural order: 2.jpg before 10.jpg)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"frame folder not found: {folder}")
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS)]
    if not names:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTS)}) in {folder}")

    def key(name):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

    return [os.path.join(folder, n) for n in sorted(names, key=key)]


@dataclass(frozen=True)
class Sequence:
    """A sequence on disk: frame paths and, when known, (N, 4) xywh ground truth."""

    name: str
    frames: List[str]
    groundtruth: Optional[np.ndarray] = None
    absent: Optional[np.ndarray] = None  # (N,) bool, True where the target is not visible

    def __len__(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class OTBRule:
    """How the official OTB toolkit (``configSeqs100.m``) reads one OTB-100 folder.

    ``frames``: (first, last) frame numbers, 1-based and inclusive (``img/0300.jpg`` is frame
    300), where ``img/`` holds more frames than the ground truth has lines. ``targets``: the
    ``k`` of ``groundtruth_rect.<k>.txt`` for folders with several annotated targets; each is one
    sequence named ``<folder>-<k>``.
    """

    frames: Optional[Tuple[int, int]] = None
    targets: Tuple[int, ...] = ()


#: The OTB-100 folders that are not "every frame of img/ + groundtruth_rect.txt" (the official
#: toolkit's values; got10k's OTB dataset and pysot's OTB100.json use the same). Human4's
#: ``groundtruth_rect.1.txt`` is empty in the release: only target 2 is evaluated.
OTB_RULES = {
    "David": OTBRule(frames=(300, 770)),
    "Football1": OTBRule(frames=(1, 74)),
    "Freeman3": OTBRule(frames=(1, 460)),
    "Freeman4": OTBRule(frames=(1, 283)),
    "Diving": OTBRule(frames=(1, 215)),
    "Jogging": OTBRule(targets=(1, 2)),
    "Skating2": OTBRule(targets=(1, 2)),
    "Human4": OTBRule(targets=(2,)),
}

_GT_NAMES = ("groundtruth_rect.txt", "groundtruth.txt")


def _nonempty(path: str) -> bool:
    if not os.path.isfile(path):
        return False
    with open(path) as f:
        return bool(f.read().strip())


def target_numbers(folder: str) -> List[int]:
    """The ``k`` of each non-empty ``groundtruth_rect.<k>.txt`` the folder's sequences use.

    OTB folders in :data:`OTB_RULES` with targets use the table (Human4: only 2); other folders
    every such file present. Empty for single-target folders.
    """
    rule = OTB_RULES.get(os.path.basename(os.path.normpath(folder)))
    if rule is not None and rule.targets:
        ks = rule.targets
    elif os.path.isdir(folder):
        ks = sorted(int(m.group(1)) for m in (re.fullmatch(r"groundtruth_rect\.(\d+)\.txt", n)
                                               for n in os.listdir(folder)) if m)
    else:
        ks = ()
    return [k for k in ks if _nonempty(os.path.join(folder, f"groundtruth_rect.{k}.txt"))]


def split_target(name: str) -> Tuple[str, Optional[int]]:
    """``"Jogging-2"`` -> ``("Jogging", 2)``; a name without ``-<k>`` -> ``(name, None)``."""
    m = re.fullmatch(r"(.+)-(\d+)", name)
    return (m.group(1), int(m.group(2))) if m else (name, None)


def otb_name_aliases(name: str) -> List[str]:
    """Other names toolkits give sequence ``name`` of a multi-target folder.

    got10k names the targets ``Jogging.1`` / ``Jogging.2``, and a folder with a single non-empty
    target file plain ``Human4``; pytracking ``Jogging_1`` (see ``compare`` for case variants).
    """
    base, k = split_target(name)
    if k is None:
        return []
    out = [f"{base}.{k}", f"{base}_{k}"]
    rule = OTB_RULES.get(base)
    if rule is not None and rule.targets == (k,):
        out.append(base)
    return out


def find_otb_sequences(root: str) -> List[str]:
    """Sequence names under ``root``: sub-folders with ``groundtruth_rect.txt`` or
    ``groundtruth.txt``, and ``<folder>-<k>`` for each target of a multi-target folder
    (``Jogging-1``, ``Jogging-2``; see :data:`OTB_RULES`)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"sequence root not found: {root}")
    names = []
    for n in sorted(os.listdir(root)):
        folder = os.path.join(root, n)
        if any(os.path.isfile(os.path.join(folder, g)) for g in _GT_NAMES):
            names.append(n)
        else:
            names += [f"{n}-{k}" for k in target_numbers(folder)]
    if not names:
        raise FileNotFoundError(f"no OTB-layout sequences (<Seq>/groundtruth_rect.txt) in {root}")
    return names


def _resolve(path: str) -> Tuple[str, Optional[str]]:
    """(real folder, annotation file or None) of a sequence path, ``root/Jogging-1`` included."""
    if os.path.isdir(path):
        for name in _GT_NAMES:
            if os.path.isfile(os.path.join(path, name)):
                return path, os.path.join(path, name)
        ks = target_numbers(path)
        if ks:
            base = os.path.basename(os.path.normpath(path))
            raise ValueError(f"{path} holds {len(ks)} annotated target(s) "
                             f"(groundtruth_rect.<k>.txt): load "
                             f"{', '.join(f'{base}-{k}' for k in ks)}")
        return path, None
    base, k = split_target(os.path.basename(os.path.normpath(path)))
    folder = os.path.join(os.path.dirname(os.path.normpath(path)), base)
    anno = os.path.join(folder, f"groundtruth_rect.{k}.txt")
    if k is not None and os.path.isfile(anno):
        return folder, anno
    raise FileNotFoundError(f"sequence folder not found: {path}")


def _frame_number(path: str) -> Optional[int]:
    stem = os.path.splitext(os.path.basename(path))[0]
    return int(stem) if stem.isdigit() else None


def select_frame_range(frames: List[str], first: int, last: int) -> List[str]:
    """Frames numbered ``first..last`` (file names ``0300.jpg``; else positions, 1-based)."""
    numbers = [_frame_number(f) for f in frames]
    if all(n is not None for n in numbers):
        return [f for f, n in zip(frames, numbers) if first <= n <= last]
    return frames[first - 1:last]


def load_otb_sequence(folder: str) -> Sequence:
    """Load ``<folder>/img/*.jpg`` + ``groundtruth_rect.txt`` (+ optional ``absent.txt``).

    Also accepts frames in ``<folder>/imgs/`` (TNL2K) or directly in ``folder``,
    ``groundtruth.txt`` (GOT-10k/VOT/TNL2K style), and
    ``<root>/Jogging-2`` for target 2 of the multi-target folder ``<root>/Jogging``
    (``groundtruth_rect.2.txt``). Where ``img/`` holds more frames than the ground truth has
    lines, the official OTB frame range of :data:`OTB_RULES` is used (David: frames 300-770).
    The ground truth must then have one line per frame.
    """
    folder = os.fspath(folder)
    src, anno = _resolve(folder)
    img_dirs = [d for d in (os.path.join(src, "img"), os.path.join(src, "imgs"))  # imgs: TNL2K
                if os.path.isdir(d)]
    frames = list_frames(img_dirs[0] if img_dirs else src)
    gt = read_boxes(anno) if anno is not None else None
    rule = OTB_RULES.get(os.path.basename(os.path.normpath(src)))
    note = ""
    if gt is not None and len(gt) != len(frames) and rule is not None and rule.frames:
        frames = select_frame_range(frames, *rule.frames)
        note = f" (OTB frame range {rule.frames[0]}-{rule.frames[1]})"
    if gt is not None and len(gt) != len(frames):
        raise ValueError(f"{folder}: {len(frames)} frames{note} but {len(gt)} ground-truth boxes")
    absent = None
    if os.path.isfile(os.path.join(src, "absent.txt")):
        absent = np.loadtxt(os.path.join(src, "absent.txt"), dtype=np.int64).reshape(-1) > 0
    return Sequence(os.path.basename(os.path.normpath(folder)), frames, gt, absent)
