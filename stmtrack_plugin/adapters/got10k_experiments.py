"""Offline GOT-10k-toolkit experiments for the benchmarks of :data:`benchmarks.BENCHMARKS`.

:func:`make_experiment` builds one from the benchmark's table entry: its reader gives the dataset,
its protocol and layout choose the experiment. One-pass benchmarks share
:class:`ExperimentOPE`; GOT-10k uses got10k's ``ExperimentGOT10k``; the reset protocol uses
:class:`OfflineVOT`. PyPI ``got10k`` 0.1.3 needs help to run offline and on NumPy 2:

* ``ExperimentOTB`` always downloads missing OTB sequences: :func:`offline_otb_dataset` builds the
  dataset with ``download=False`` (only real OTB folder names are found, e.g. ``Crossing``,
  ``Jogging``; :func:`otb_selection_note` says which folders run and which are left out).
* ``UAV123`` insists on more than three entries in the root, and PyPI has no LaSOT experiment:
  :mod:`benchmark_readers` reads those layouts (and TNL2K, NfS, UAV20L, TrackingNet) itself.
* :class:`ExperimentOPE` reports got10k's OTB scores (success, precision, success rate) where
  the table lists those, otherwise success, precision and normalised precision as the LaSOT /
  TNL2K toolkits do (:mod:`stmtrack_plugin.evaluation.metrics`).
* ``ExperimentVOT`` uses ``np.NaN`` (gone in NumPy 2) and builds a ragged array in ``_calc_iou``:
  :class:`OfflineVOT` fixes both and reads ``<seq>/*.jpg`` or VOT-toolkit ``<seq>/color/*.jpg``.

``max_frames`` truncates every sequence (smoke runs; numbers are then not comparable with
published ones). Results are written by :mod:`stmtrack_plugin.adapters.runner` in the layout of
the table entry (see :func:`make_jobs`); splits whose ground truth is withheld (GOT-10k test,
TrackingNet test) are packed for their servers (:func:`pack_submission`).
"""
from __future__ import annotations

import contextlib
import glob
import io
import json
import os
from typing import Optional

import numpy as np
from got10k.datasets import OTB, VOT
from got10k.experiments import ExperimentGOT10k, ExperimentUAV123, ExperimentVOT

from stmtrack_plugin.adapters.benchmark_readers import CheckedLengths
from stmtrack_plugin.adapters.benchmarks import BenchmarkSpec, benchmark_spec
from stmtrack_plugin.adapters.layouts import GOT10kLayout
from stmtrack_plugin.adapters.runner import Job
from stmtrack_plugin.evaluation.metrics import mean_result, ope, tracking_fps
from stmtrack_plugin.utils.io import atomic_write_text
from stmtrack_plugin.utils.sequences import split_target


class Truncated:
    """A got10k dataset view keeping only the first ``max_frames`` frames of every sequence."""

    def __init__(self, dataset, max_frames: int):
        self.dataset, self.max_frames = dataset, int(max_frames)
        self.seq_names = dataset.seq_names

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        item = self.dataset[index]
        n = self.max_frames
        img_files, anno = item[0][:n], item[1][:n]
        if len(item) == 3:  # VOT meta: per-frame tags
            meta = {k: (v[:n] if isinstance(v, np.ndarray) else v) for k, v in item[2].items()}
            return img_files, anno, meta
        return img_files, anno

    @property
    def return_meta(self):  # got10k's GOT-10k report switches this on the dataset
        return self.dataset.return_meta

    @return_meta.setter
    def return_meta(self, value):
        self.dataset.return_meta = value

    def __getattr__(self, name):  # e.g. VOT's _corner2rect
        return getattr(self.dataset, name)


def _maybe_truncate(dataset, max_frames):
    return dataset if not max_frames else Truncated(dataset, max_frames)


def offline_otb_dataset(root_dir, version=2015):
    """got10k's OTB dataset without downloads (real OTB names only); ``selection_note`` says
    which folders run and which are left out."""
    version = int(version) if str(version).isdigit() else version
    if not os.path.isdir(root_dir) or not os.listdir(root_dir):
        raise FileNotFoundError(f"OTB root {root_dir} is missing or empty")
    with contextlib.redirect_stdout(io.StringIO()):  # one "not exists" line per OTB name
        dataset = OTB(root_dir, version, download=False)
    dataset.selection_note = otb_selection_note(root_dir, version, dataset.seq_names)
    if len(dataset) == 0:
        raise FileNotFoundError(f"no sequences with OTB names (e.g. Crossing/"
                                f"groundtruth_rect.txt) in {root_dir}\n"
                                f"{dataset.selection_note}")
    return dataset


def otb_selection_note(root_dir, version, seq_names) -> str:
    """What got10k's OTB dataset runs from ``root_dir`` and which folders it leaves out, and why
    (it keeps only the benchmark's own folder names; see :data:`sequences.OTB_RULES` for how
    multi-target folders become ``Jogging.1`` / ``Jogging.2``)."""
    valid = OTB._OTB__version_dict[version]  # got10k's name list for this version
    by_lower = {n.lower(): n for n in valid}
    label = f"got10k OTB{version}"
    skipped = []
    for name in sorted(os.listdir(root_dir)):
        if not os.path.isdir(os.path.join(root_dir, name)):
            continue
        if name in valid:
            if not glob.glob(os.path.join(root_dir, name, "groundtruth*.txt")):
                skipped.append(f"{name} (no groundtruth*.txt)")
            continue
        hint = ""
        if name.lower() in by_lower:
            hint = f"; rename it {by_lower[name.lower()]}"
        elif split_target(name)[0] in valid:
            hint = f"; got10k reads {split_target(name)[0]}/groundtruth_rect.<k>.txt"
        skipped.append(f"{name} (not an OTB{version} sequence name{hint})")
    lines = [f"{label}: running {len(seq_names)} sequence(s): {', '.join(seq_names)}"]
    if skipped:
        lines.append(f"{label}: skipped {len(skipped)} folder(s): {', '.join(skipped)}")
    return "\n".join(lines)


class ExperimentOPE(ExperimentUAV123):
    """One-pass experiment of any benchmark in the table (OTB, UAV123, UAV20L, LaSOT, TNL2K,
    NfS, TrackingNet).

    ``report()`` gives got10k's OTB report (success, precision, success rate) where the entry's
    metrics are :data:`benchmarks.GOT10K_OTB_METRICS`, otherwise success AUC, precision@20 and
    normalised precision (LaSOT / TNL2K toolkits), leaving out frames whose ground truth is
    missing (NaN or zero size), and writes ``performance.json`` and the plots. Frames without
    ground truth are NaN (got10k's UAV123 rule) in the got10k report too.
    """

    def __init__(self, spec: BenchmarkSpec, dataset, folder: str, result_dir="results",
                 report_dir="reports"):
        self.spec, self.dataset = spec, dataset
        self.selection_note = getattr(dataset, "selection_note", "")
        self.result_dir = os.path.join(result_dir, folder)
        self.report_dir = os.path.join(report_dir, folder)
        self.nbins_iou, self.nbins_ce = 21, 51

    def report(self, tracker_names):
        if "norm_precision" not in self.spec.metrics:
            return super().report(tracker_names)
        performance = {}
        for name in tracker_names:
            seq_wise, results, speeds = {}, [], []
            for s, seq_name in enumerate(self.dataset.seq_names):
                _, anno = self.dataset[s]
                boxes = np.loadtxt(os.path.join(self.result_dir, name, seq_name + ".txt"),
                                   delimiter=",", ndmin=2)
                boxes[0] = anno[0]
                valid = np.isfinite(anno).all(1) & (anno[:, 2] > 0) & (anno[:, 3] > 0)
                res = ope(boxes, anno, valid)
                speed = _speed(os.path.join(self.result_dir, name, "times",
                                            seq_name + "_time.txt"))
                results.append(res)
                speeds.append(speed)
                seq_wise[seq_name] = _scores(res, speed)
            overall = _scores(mean_result(results), _mean_speed(speeds))
            performance[name] = {"overall": overall, "seq_wise": seq_wise}
        report_dir = os.path.join(self.report_dir, tracker_names[0])
        atomic_write_text(os.path.join(report_dir, "performance.json"),
                          json.dumps(performance, indent=2))
        self.plot_curves(tracker_names)
        return performance


def _speed(time_file):
    """got10k's ``speed_fps`` of one time file (init frames are NaN there); -1 without timings."""
    if not os.path.isfile(time_file):
        return -1.0
    fps = tracking_fps(np.loadtxt(time_file, delimiter=",", ndmin=1))
    return -1.0 if fps is None else fps


def _mean_speed(speeds):
    valid = [s for s in speeds if s > 0]
    return float(np.mean(valid)) if valid else -1.0


def _scores(res, speed) -> dict:
    return {"success_curve": res.success_curve.tolist(),
            "precision_curve": res.precision_curve.tolist(),
            "normalized_precision_curve": res.norm_precision_curve.tolist(),
            "success_score": res.success_auc, "precision_score": res.precision20,
            "normalized_precision_score": res.norm_precision,
            "success_rate": float(res.success_curve[len(res.success_curve) // 2]),
            "speed_fps": speed}


class _VOTDataset(VOT):
    """got10k's VOT dataset without downloads; frames in ``<seq>/`` or ``<seq>/color/``."""

    def __getitem__(self, index):
        if isinstance(index, str):
            index = self.seq_names.index(index)
        seq_dir = self.seq_dirs[index]
        img_files = sorted(glob.glob(os.path.join(seq_dir, "*.jpg")))
        if not img_files:
            img_files = sorted(glob.glob(os.path.join(seq_dir, "color", "*.jpg")))
        anno = np.loadtxt(self.anno_files[index], delimiter=",", ndmin=2)
        if len(img_files) != len(anno):
            raise ValueError(f"{seq_dir}: {len(img_files)} frames but {len(anno)} GT lines")
        meta = self._fetch_meta(seq_dir, len(img_files)) if self.return_meta else None
        return (img_files, anno, meta) if self.return_meta else (img_files, anno)


def offline_vot_dataset(root_dir, version=2018) -> _VOTDataset:
    """got10k's VOT dataset of a complete local copy (``list.txt``), with per-frame tags."""
    if not os.path.isfile(os.path.join(root_dir, "list.txt")):
        raise FileNotFoundError(f"VOT root {root_dir} has no list.txt")
    version = int(version) if str(version).isdigit() else version
    return _VOTDataset(root_dir, version, anno_type="default", download=False, return_meta=True)


class OfflineVOT(ExperimentVOT):
    """``ExperimentVOT`` for a local dataset, with the NumPy-2 fixes (see module docstring)."""

    def __init__(self, root_dir, version=2018, experiments=("supervised",),
                 result_dir="results", report_dir="reports", max_frames: Optional[int] = None,
                 dataset=None):
        ensure_numpy2_compat()
        data = offline_vot_dataset(root_dir, version) if dataset is None else dataset
        self.dataset = _maybe_truncate(data, max_frames)
        self.experiments = tuple([experiments] if isinstance(experiments, str) else experiments)
        self.read_image = True
        self.result_dir = os.path.join(result_dir, "VOT" + str(version))
        self.report_dir = os.path.join(report_dir, "VOT" + str(version))
        self.skip_initialize, self.burnin, self.repetitions = 5, 10, 15
        self.sensitive, self.nbins_eao = 100, 1500
        self.tags = ["camera_motion", "illum_change", "occlusion", "size_change",
                     "motion_change", "empty"]

    def _calc_iou(self, boxes, anno, bound, burnin=False):
        from got10k.utils.metrics import poly_iou

        boxes = [list(b) for b in boxes]
        if burnin:
            for i in [i for i, b in enumerate(boxes) if b == [1.0]]:
                boxes[i:i + self.burnin] = [[0]] * len(boxes[i:i + self.burnin])
        return np.array([float(np.asarray(poly_iou(np.array(a), b, bound)).reshape(-1)[0])
                         if len(a) > 1 else np.nan for a, b in zip(boxes, anno)], dtype=float)


def ensure_numpy2_compat() -> None:
    """Restore ``np.NaN`` (removed in NumPy 2) that got10k's VOT run loops still use."""
    if not hasattr(np, "NaN"):
        np.NaN = np.nan


def make_experiment(benchmark: str, root: str, result_dir: str = "results",
                    report_dir: str = "reports", max_frames: Optional[int] = None,
                    version=None):
    """The offline experiment of ``benchmark`` (a key of :data:`benchmarks.BENCHMARKS`): the
    entry's reader gives the dataset; its protocol and layout choose the experiment."""
    spec = benchmark_spec(benchmark)
    version = spec.version(version)
    folder = spec.folder_for(version)
    dataset = spec.reader(root, version)
    if spec.protocol == "reset":
        exp = OfflineVOT(root, version, result_dir=result_dir, report_dir=report_dir,
                         max_frames=max_frames, dataset=dataset)
    elif spec.layout is GOT10kLayout:
        exp = ExperimentGOT10k(root, version, result_dir, report_dir)  # results in GOT-10k/
        exp.dataset = _maybe_truncate(dataset, max_frames)
    else:
        exp = ExperimentOPE(spec, CheckedLengths(_maybe_truncate(dataset, max_frames)), folder,
                            result_dir, report_dir)
    exp.spec, exp.version = spec, version
    return exp


def make_jobs(experiment, tracker_name: str) -> list:
    """Runner jobs that write what ``experiment.report([tracker_name])`` reads, in the layout
    of the experiment's table entry."""
    spec: BenchmarkSpec = experiment.spec
    dataset = experiment.dataset
    out = os.path.join(experiment.result_dir, tracker_name)
    jobs = []
    for s, name in enumerate(dataset.seq_names):
        item = dataset[s]
        frames, anno = tuple(item[0]), np.asarray(item[1], dtype=np.float64)
        if spec.protocol == "reset":
            rects = dataset._corner2rect(anno) if anno.shape[1] == 8 else anno
            jobs.append(Job(name, frames, anno, spec.layout(out), protocol="reset",
                            init_boxes=rects, skip=experiment.skip_initialize))
        else:
            jobs.append(Job(name, frames, anno, spec.layout(out)))
    return jobs


def withheld(experiment) -> bool:
    """Whether the experiment's split has no public ground truth (server submission only)."""
    return experiment.version in experiment.spec.withheld


def pack_submission(experiment, tracker_name: str) -> str:
    """Write the server's zip of ``tracker_name``'s results: ``<results>/<folder>/<name>.zip``
    (where got10k's GOT-10k report puts it)."""
    results = os.path.join(experiment.result_dir, tracker_name)
    return experiment.spec.pack(results, results + ".zip", experiment.dataset.seq_names)
