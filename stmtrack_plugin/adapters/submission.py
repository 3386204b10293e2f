"""Zips for the evaluation servers of benchmarks whose test ground truth is withheld.

* GOT-10k test (got-10k.aitestunion.com, the layout got10k's ``ExperimentGOT10k.report`` packs):
  one folder per sequence at the zip root, ``<seq>/<seq>_001.txt`` (comma-separated
  ``x,y,w,h`` per frame) and ``<seq>/<seq>_time.txt`` (seconds per frame).
* TrackingNet test (eval.ai, the layout pytracking's ``pack_trackingnet_results`` writes):
  ``<seq>.txt`` files at the zip root, comma-separated ``x,y,w,h`` per frame.

Only those files go in: never the hidden ``.stmtrack/`` resume records nor the ``times/`` folder.
Zips are written to a temporary name and renamed, so a zip that exists is complete.

Time files: the results folder holds ``NaN`` on line 1 (the init frame, not a tracking frame:
see :mod:`layouts`). The server's FPS is got10k's mean of ``1 / t`` over the lines; to stay
readable by any parser, the submission copy writes a finite time on that line instead:
``1 / (mean of 1 / t over the tracked frames)``, which leaves that mean, hence the reported
tracking speed, exactly unchanged (the measured init time, < 1 ms, would inflate it).
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from stmtrack_plugin.evaluation.metrics import tracking_fps


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _write_zip(zip_path: str, members) -> str:
    """``members``: (name inside the zip, bytes); written atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(zip_path)), exist_ok=True)
    tmp = zip_path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    os.replace(tmp, zip_path)
    return zip_path


def submission_times(seconds) -> str:
    """A ``_time.txt`` with every line finite: untimed lines get ``1 / tracking_fps``."""
    t = np.asarray(seconds, dtype=np.float64).reshape(-1)
    fps = tracking_fps(t)
    if fps is None:
        raise ValueError("no timed frame to derive the init line from")
    timed = np.isfinite(t) & (t > 0)
    t = np.where(timed, t, 1.0 / fps)
    return "".join(f"{v:.8f}\n" for v in t)


def pack_got10k(results: str, zip_path: str, seq_names=None) -> str:
    """Zip ``<results>/<seq>/<seq>_001.txt`` and ``_time.txt`` of ``seq_names`` (default: every
    sequence folder)."""
    members = []
    if seq_names is None:
        seq_names = [n for n in sorted(os.listdir(results))
                     if not _hidden(n) and os.path.isdir(os.path.join(results, n))]
    for seq in seq_names:
        folder = os.path.join(results, seq)
        boxes = os.path.join(folder, f"{seq}_001.txt")
        if not os.path.isfile(boxes):
            raise FileNotFoundError(f"{seq}: no {seq}_001.txt in {folder}")
        with open(boxes, "rb") as f:
            members.append((f"{seq}/{seq}_001.txt", f.read()))
        times = os.path.join(folder, f"{seq}_time.txt")
        if os.path.isfile(times):
            t = np.loadtxt(times, delimiter=",", ndmin=1)
            members.append((f"{seq}/{seq}_time.txt", submission_times(t).encode()))
    if not members:
        raise FileNotFoundError(f"no GOT-10k result folders in {results}")
    return _write_zip(zip_path, members)


def pack_trackingnet(results: str, zip_path: str, seq_names=None) -> str:
    """Zip ``<results>/<seq>.txt`` of ``seq_names`` (default: every ``.txt``) at the zip root."""
    if seq_names is None:
        seq_names = [n[:-4] for n in sorted(os.listdir(results))
                     if not _hidden(n) and n.endswith(".txt")]
    members = []
    for seq in seq_names:
        path = os.path.join(results, f"{seq}.txt")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{seq}: no result file {path}")
        with open(path, "rb") as f:
            members.append((f"{seq}.txt", f.read()))
    if not members:
        raise FileNotFoundError(f"no TrackingNet result files (<seq>.txt) in {results}")
    return _write_zip(zip_path, members)
