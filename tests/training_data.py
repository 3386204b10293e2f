"""Arrange the shared OTB-layout sequences as small GOT-10k and LaSOT datasets (symlinks)."""
from __future__ import annotations

import os
from pathlib import Path

from stmtrack_plugin.utils.sequences import load_otb_sequence

GOT_SEQUENCES = ("Crossing", "Couple", "bag")
LASOT_SEQUENCES = (("car", "Car4"), ("person", "Jogging-1"), ("person", "Crossing"))


def _link_frames(frames, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        os.symlink(os.path.abspath(frame), folder / f"{i:08d}.jpg")


def _write_boxes(path: Path, boxes) -> None:
    path.write_text("".join(",".join(f"{v:.2f}" for v in b) + "\n" for b in boxes))


def arrange_training_data(sequences_dir: Path, root: Path, max_frames: int = 80) -> Path:
    """``root/got10k/train/<seq>`` and ``root/lasot/<class>/<class>-<k>`` from the shared data.

    Only the first ``max_frames`` frames of each sequence are used. The GOT-10k copies get an
    ``absence.label`` (frame 3 absent) and the LaSOT ones occlusion/out-of-view flag files.
    """
    got = root / "got10k" / "train"
    for name in GOT_SEQUENCES:
        seq = load_otb_sequence(sequences_dir / name)
        n = min(len(seq), max_frames)
        folder = got / f"GOT-10k_Train_{name}"
        _link_frames(seq.frames[:n], folder)
        _write_boxes(folder / "groundtruth.txt", seq.groundtruth[:n])
        (folder / "absence.label").write_text("".join("1\n" if i == 2 else "0\n" for i in range(n)))
    (got / "list.txt").write_text("".join(f"GOT-10k_Train_{n}\n" for n in GOT_SEQUENCES))
    counts = {}
    for cls, name in LASOT_SEQUENCES:
        counts[cls] = counts.get(cls, 0) + 1
        seq = load_otb_sequence(sequences_dir / name)
        n = min(len(seq), max_frames)
        folder = root / "lasot" / cls / f"{cls}-{counts[cls]}"
        _link_frames(seq.frames[:n], folder / "img")
        _write_boxes(folder / "groundtruth.txt", seq.groundtruth[:n])
        flags = ",".join("1" if i == 5 else "0" for i in range(n))
        (folder / "full_occlusion.txt").write_text(flags + "\n")
        (folder / "out_of_view.txt").write_text(",".join("0" for _ in range(n)) + "\n")
    return root
