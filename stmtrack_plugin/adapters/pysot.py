"""pysot-style raw results (STVIR/pysot ``tools/test.py``; read by pysot-toolkit ``bin/eval.py``).

Layout under ``<results>/<DATASET>/<tracker>/``:

* one-pass datasets (OTB100, UAV123, LaSOT, NFS, ...): ``<video>.txt``, one comma-separated
  ``x,y,w,h`` per frame, line 1 = the initial box (plus ``times/<video>_time.txt``, which pysot
  ignores);
* VOT2016/2018/2019: ``baseline/<video>/<video>_001.txt`` with ``1`` (init), ``2`` (failure),
  ``0`` (skipped) or ``x,y,w,h``; the tracker is re-initialised 5 frames after a failure (zero
  overlap with the ground truth inside the image).

The initial box follows the authors' testers by default (:func:`protocols.init_box`, rule
``"stmtrack"``: the ground-truth line unchanged for one-pass datasets, the area-preserving box
with ``x = cx - w/2`` for VOT); ``init_rule="pysot"`` reproduces pysot's ``tools/test.py``. Video names and frames come from ``<root>/<DATASET>.json``
(pysot's dataset description: ``{video: {img_names, gt_rect, ...}}``), or, without that file,
from OTB-layout folders in ``root`` (:func:`write_dataset_json` writes the json for
pysot-toolkit). Published raw results of other trackers unpacked next to ours (same
``<DATASET>/`` folder, same video names) are evaluated side by side by pysot-toolkit and by
``stmtrack compare``.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from stmtrack_plugin.adapters.benchmarks import is_reset_dataset
from stmtrack_plugin.adapters.layouts import BaselineLayout, OPELayout
from stmtrack_plugin.adapters.protocols import init_box
from stmtrack_plugin.adapters.runner import Job
from stmtrack_plugin.utils.io import atomic_write_text
from stmtrack_plugin.utils.sequences import find_otb_sequences, load_otb_sequence

def load_dataset(root: str, dataset: str, shift: float = 0.0) -> dict:
    """``{video: (frame paths, (N, 4|8) ground truth)}`` from ``<root>/<dataset>.json``.

    Without the json, OTB-layout folders under ``root`` are used, their ground truth minus
    ``shift`` on x and y (default 0: the benchmark's own values, as pysot's OTB100.json keeps
    them, so results compare with published pysot results).
    """
    meta_file = os.path.join(root, f"{dataset}.json")
    videos = {}
    if os.path.isfile(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        for name, info in meta.items():
            frames = [os.path.join(root, p) for p in info["img_names"]]
            videos[name] = (frames, np.asarray(info["gt_rect"], dtype=np.float64))
        return videos
    return scan_otb_folders(root, shift)


def scan_otb_folders(root: str, shift: float = 0.0) -> dict:
    """``{video: (frame paths, (N, 4) ground truth - shift)}`` of OTB-layout folders in root."""
    videos = {}
    for name in find_otb_sequences(root):
        seq = load_otb_sequence(os.path.join(root, name))
        gt = seq.groundtruth.copy()
        gt[:, :2] -= shift
        videos[name] = (list(seq.frames), gt)
    return videos


def write_dataset_json(root: str, dataset: str, shift: float = 0.0) -> str:
    """Write ``<root>/<dataset>.json`` for OTB-layout folders in ``root`` (pysot-toolkit input)."""
    meta = {}
    for name, (frames, gt) in scan_otb_folders(root, shift).items():
        meta[name] = {"video_dir": name, "init_rect": gt[0].tolist(),
                      "img_names": [os.path.relpath(p, root) for p in frames],
                      "gt_rect": gt.tolist(), "attr": []}
    path = os.path.join(root, f"{dataset}.json")
    atomic_write_text(path, json.dumps(meta))
    return path


def make_jobs(root: str, dataset: str, results: str, tracker_name: str,
              max_frames: Optional[int] = None, videos=None, init_rule: str = "stmtrack") -> list:
    """Runner jobs writing ``<results>/<dataset>/<tracker_name>/...`` in pysot's layout.

    ``init_rule`` chooses how initial boxes come from the ground truth (see
    :func:`protocols.init_box`): ``"stmtrack"`` (the authors', default) or ``"pysot"``.
    """
    videos = load_dataset(root, dataset) if videos is None else videos
    out = os.path.join(results, dataset, tracker_name)
    reset = is_reset_dataset(dataset)
    jobs = []
    for name, (frames, gt) in videos.items():
        frames, gt = tuple(frames[:max_frames]), gt[:max_frames]
        init = np.array([init_box(r, init_rule, one_pass=not reset) for r in gt])
        if reset:
            jobs.append(Job(name, frames, gt, BaselineLayout(out), protocol="reset",
                            init_boxes=init))
        else:  # one-pass: the run starts from the init box and records it as line 1
            jobs.append(Job(name, frames, gt, OPELayout(out), init_boxes=init))
    return jobs


def read_pysot_result(path: str) -> np.ndarray:
    """Parse a one-pass result the way pysot-toolkit does (``line.split(',')`` floats)."""
    with open(path) as f:
        rows = [list(map(float, line.strip().split(","))) for line in f if line.strip()]
    return np.asarray(rows, dtype=np.float64)
