"""Sequence readers of the benchmark layouts: ``reader(root, version) -> dataset``.

A dataset has ``seq_names`` and ``dataset[i or name] -> (frame paths, (N, 4) x, y, w, h)``, the
interface of got10k's datasets, so got10k's experiments and :mod:`runner` jobs both use it.
:class:`CheckedLengths` checks that frames and annotation lines agree, naming the sequence.

==============  =============================================================================
benchmark       layout under ``root``
==============  =============================================================================
UAV123          ``anno/UAV123/<name>.txt``, ``data_seq/UAV123/<folder>/%06d.jpg``; names,
                folders and frame ranges from got10k's bundled ``uav123.json``
UAV20L          ``anno/UAV20L/<name>.txt``, ``data_seq/UAV123/<name>/%06d.jpg``: whole folders,
                frames 1..(annotation lines)
LaSOT           ``<class>/<class>-<n>/img/%08d.jpg``, ``groundtruth.txt``; test names from
                got10k's bundled ``lasot.json``
TNL2K           ``<seq>/imgs/*.jpg|png``, ``<seq>/groundtruth.txt`` (every folder of ``root``)
NfS (30 fps)    ``<seq>/30/<seq>/%05d.jpg``, ``<seq>/30/<seq>.txt`` with lines
                ``id xmin ymin xmax ymax frame lost occluded generated "label"``
TrackingNet     ``<SPLIT>/frames/<seq>/<n>.jpg``, ``<SPLIT>/anno/<seq>.txt`` (test: frame 0 only;
                the other rows are NaN)
==============  =============================================================================
"""
from __future__ import annotations

import importlib.util
import json
import os
from typing import Callable, List, Sequence, Tuple

import numpy as np

from stmtrack_plugin.utils.sequences import (find_otb_sequences, list_frames, load_otb_sequence,
                                             read_boxes)

Item = Tuple[List[str], np.ndarray]


def got10k_data_file(name: str) -> str:
    """Path of a json bundled with the got10k package (``uav123.json``, ``lasot.json``)."""
    spec = importlib.util.find_spec("got10k")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the got10k package is needed for its bundled sequence lists "
                                  "(pip install 'stmtrack-plugin[got10k]')")
    return os.path.join(list(spec.submodule_search_locations)[0], "datasets", name)


class SequenceSet:
    """``seq_names`` plus ``load(name) -> (frames, (N, 4) boxes)``."""

    def __init__(self, seq_names: Sequence[str], load: Callable[[str], Item], what: str):
        if not seq_names:
            raise FileNotFoundError(f"no sequences found: {what}")
        self.seq_names, self._load = list(seq_names), load

    def __len__(self):
        return len(self.seq_names)

    def __getitem__(self, index) -> Item:
        name = index if isinstance(index, str) else self.seq_names[index]
        frames, anno = self._load(name)
        return list(frames), np.asarray(anno, dtype=np.float64).reshape(-1, 4)


class CheckedLengths:
    """A dataset view that fails with a clear message when frames and annotation lines
    disagree (wrap it around a truncated view to check only the frames that run)."""

    def __init__(self, dataset):
        self.dataset, self.seq_names = dataset, dataset.seq_names
        self.selection_note = getattr(dataset, "selection_note", "")

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index) -> Item:
        frames, anno = self.dataset[index][:2]
        name = index if isinstance(index, str) else self.seq_names[index]
        if len(frames) != len(anno):
            raise ValueError(f"{name}: {len(frames)} frames expected by the benchmark "
                             f"definition but {len(anno)} annotation lines")
        return frames, anno


def read_uav123(root: str, version: str = "UAV123") -> SequenceSet:
    version = version.upper()
    with open(got10k_data_file("uav123.json")) as f:
        metas = json.load(f)[version]

    def load(name):
        meta = metas[name]
        folder = os.path.join(root, "data_seq", "UAV123", meta["folder_name"])
        frames = [os.path.join(folder, "%06d.jpg" % i)
                  for i in range(meta["start_frame"], meta["end_frame"] + 1)]
        return frames, read_boxes(os.path.join(root, "anno", version, name + ".txt"))

    names = [n for n in metas if os.path.isfile(os.path.join(root, "anno", version, n + ".txt"))]
    return SequenceSet(names, load, f"no {version} annotation files in {root}/anno/{version}")


def read_uav20l(root: str, version: str = "") -> SequenceSet:
    """UAV20L: each annotation file covers its folder from frame 1 (UAV123's long subset)."""
    anno_dir = os.path.join(root, "anno", "UAV20L")
    names = sorted(n[:-4] for n in os.listdir(anno_dir) if n.endswith(".txt")) \
        if os.path.isdir(anno_dir) else []

    def load(name):
        boxes = read_boxes(os.path.join(anno_dir, name + ".txt"))
        folder = os.path.join(root, "data_seq", "UAV123", name)
        return [os.path.join(folder, "%06d.jpg" % i) for i in range(1, len(boxes) + 1)], boxes

    return SequenceSet(names, load, f"no UAV20L annotation files (anno/UAV20L/<name>.txt) in "
                                    f"{root}")


def read_lasot(root: str, subset: str = "test") -> SequenceSet:
    with open(got10k_data_file("lasot.json")) as f:
        listed = json.load(f)[subset]

    def seq_dir(name):
        return os.path.join(root, name[:name.rfind("-")], name)

    def load(name):
        return (list_frames(os.path.join(seq_dir(name), "img")),
                read_boxes(os.path.join(seq_dir(name), "groundtruth.txt")))

    names = [n for n in listed if os.path.isfile(os.path.join(seq_dir(n), "groundtruth.txt"))]
    return SequenceSet(names, load, f"no LaSOT {subset} sequences (e.g. airplane/airplane-1/"
                                    f"groundtruth.txt) in {root}")


def read_tnl2k(root: str, version: str = "") -> SequenceSet:
    def load(name):
        seq = load_otb_sequence(os.path.join(root, name))
        return seq.frames, seq.groundtruth

    names = find_otb_sequences(root) if os.path.isdir(root) else []
    return SequenceSet(names, load, f"no TNL2K sequences (<seq>/imgs/, <seq>/groundtruth.txt) "
                                    f"in {root}")


def read_nfs_annotation(path: str, n_frames: int) -> np.ndarray:
    """(n_frames, 4) x, y, w, h of an NfS annotation file (``id xmin ymin xmax ymax frame ...``).

    A file with one line per frame is used as is; a file with 240-fps lines (about 8 per 30-fps
    frame) keeps every 8th line.
    """
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                rows.append([float(v) for v in parts[1:5]])
            except ValueError:
                raise ValueError(f"{path}:{lineno}: expected 'id xmin ymin xmax ymax frame ...', "
                                 f"got {line.strip()!r}") from None
    xyxy = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    if len(xyxy) != n_frames and len(xyxy[::8]) in (n_frames, n_frames + 1):
        xyxy = xyxy[::8][:n_frames]
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def read_nfs(root: str, version: str = "30") -> SequenceSet:
    def load(name):
        frames = list_frames(os.path.join(root, name, version, name))
        return frames, read_nfs_annotation(os.path.join(root, name, version, name + ".txt"),
                                           len(frames))

    names = sorted(n for n in os.listdir(root)
                   if os.path.isfile(os.path.join(root, n, version, n + ".txt"))) \
        if os.path.isdir(root) else []
    return SequenceSet(names, load, f"no NfS sequences (<seq>/{version}/<seq>.txt) in {root}")


def read_trackingnet(root: str, split: str = "test") -> SequenceSet:
    """TrackingNet ``<root>/<SPLIT>/``; rows after the first are NaN where the file has one."""
    base = os.path.join(root, split.upper())
    anno_dir = os.path.join(base, "anno")

    def load(name):
        frames = list_frames(os.path.join(base, "frames", name))
        boxes = read_boxes(os.path.join(anno_dir, name + ".txt"))
        if len(boxes) == 1:  # test split: the initial box only
            boxes = np.concatenate([boxes, np.full((len(frames) - 1, 4), np.nan)])
        return frames, boxes

    names = sorted(n[:-4] for n in os.listdir(anno_dir) if n.endswith(".txt")) \
        if os.path.isdir(anno_dir) else []
    return SequenceSet(names, load, f"no TrackingNet sequences ({split.upper()}/anno/<seq>.txt) "
                                    f"in {root}")


def read_otb(root: str, version=2015):
    """got10k's OTB dataset without downloads; ``selection_note`` says what runs."""
    from stmtrack_plugin.adapters.got10k_experiments import offline_otb_dataset

    return offline_otb_dataset(root, version)


def read_got10k(root: str, subset: str = "val"):
    from got10k.datasets import GOT10k

    return GOT10k(root, subset=subset)


def read_vot(root: str, version=2018):
    from stmtrack_plugin.adapters.got10k_experiments import offline_vot_dataset

    return offline_vot_dataset(root, version)
