"""Side-by-side comparison of trackers' one-pass results on one dataset.

Reads raw results in the common layouts (``<results>/<tracker>/<video>.txt``: got10k, pysot,
pytracking, official OTB result names such as ``jogging_1.txt``, got10k's ``Jogging.1.txt``;
``<video>/<video>_001.txt``: GOT-10k), comma-, tab- or space-separated, scores them against the
dataset's ground truth with :mod:`evaluation.metrics` and writes a table (markdown + CSV) and
success / precision plots.

Result boxes must use the same coordinate convention as the dataset's ground truth (results
produced from that ground truth, by any toolkit here, do). Only videos that every tracker has
results for are scored, so the numbers compare like with like; the others are listed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from stmtrack_plugin.evaluation.metrics import (CE_THRESHOLDS, IOU_THRESHOLDS, OPEResult, ope,
                                               tracking_fps)
from stmtrack_plugin.utils.io import atomic_write_text
from stmtrack_plugin.utils.sequences import otb_name_aliases, read_boxes


def _name_variants(video: str) -> List[str]:
    """``video`` as toolkits name its result file (``Jogging-2``: ``jogging_2``, got10k's
    ``Jogging.2``, pytracking's ``Jogging_2``; ``Human4-2``: got10k's ``Human4``)."""
    names = []
    for name in [video] + otb_name_aliases(video):
        low = name[:1].lower() + name[1:]
        names += [name, low, name.replace("-", "_"), low.replace("-", "_"), name.lower()]
    return list(dict.fromkeys(names))


def find_result_file(tracker_dir: str, video: str) -> Optional[str]:
    """The result file of ``video`` in ``tracker_dir`` (several naming conventions), or None."""
    for name in _name_variants(video):
        for rel in (f"{name}.txt", os.path.join(name, f"{name}_001.txt")):
            path = os.path.join(tracker_dir, rel)
            if os.path.isfile(path):
                return path
    return None


def find_time_file(tracker_dir: str, video: str) -> Optional[str]:
    for name in _name_variants(video):
        for rel in (os.path.join("times", f"{name}_time.txt"), f"{name}_time.txt",
                    os.path.join(name, f"{name}_time.txt")):
            path = os.path.join(tracker_dir, rel)
            if os.path.isfile(path):
                return path
    return None


def read_fps(time_file: str) -> Optional[float]:
    """Tracking speed of one time file: :func:`metrics.tracking_fps` of its lines after the first.

    One line per frame, one column per run (GOT-10k repetitions: comma-, tab- or space-
    separated). Line 1 is the init frame: this package writes NaN there, other toolkits'
    loops (got10k's ``Tracker.track``, pytracking) write the ``initialize`` time, which is not a
    tracking frame, so it is always left out.
    """
    rows = []
    with open(time_file) as f:
        for line in f:
            vals = []
            for tok in line.replace(",", " ").replace("\t", " ").split():
                try:
                    vals.append(float(tok))
                except ValueError:
                    continue
            if vals:
                rows.append(vals)
    return tracking_fps([v for row in rows[1:] for v in row])


@dataclass(frozen=True)
class TrackerScores:
    name: str
    result: OPEResult
    fps: Optional[float]
    per_video: Dict[str, OPEResult]


def score_trackers(groundtruth: Dict[str, np.ndarray], results_root: str, trackers: List[str]):
    """Score each tracker on the videos all of them have; returns (scores, skipped videos).

    ``groundtruth`` maps video name to (N, 4) xywh. A result longer than the ground truth is cut
    (runs on truncated datasets); a shorter one is an error naming the file.
    """
    files = {}
    for t in trackers:
        tdir = os.path.join(results_root, t)
        if not os.path.isdir(tdir):
            raise FileNotFoundError(f"no results folder for tracker {t!r}: {tdir}")
        files[t] = {v: find_result_file(tdir, v) for v in groundtruth}
        if not any(files[t].values()):
            raise FileNotFoundError(f"tracker {t!r} has no result for any video of the dataset "
                                    f"in {tdir}")
    common = [v for v in groundtruth if all(files[t][v] for t in trackers)]
    skipped = [v for v in groundtruth if v not in common]
    if not common:
        raise ValueError("no video has results from every tracker; nothing to compare")
    scores = []
    for t in trackers:
        per_video, speeds = {}, []
        for v in common:
            gt = groundtruth[v]
            pred = read_boxes(files[t][v])
            if len(pred) < len(gt):
                raise ValueError(f"{files[t][v]}: {len(pred)} boxes for {len(gt)} frames")
            pred = pred[:len(gt)].copy()
            pred[0] = gt[0]  # frame 0 is the given initialisation (as got10k/pysot score it)
            per_video[v] = ope(pred, gt)
            tf = find_time_file(os.path.join(results_root, t), v)
            fps = read_fps(tf) if tf else None
            if fps:
                speeds.append(fps)
        overall = OPEResult(*(np.mean([getattr(r, k) for r in per_video.values()], 0)
                              for k in ("success_curve", "precision_curve",
                                        "norm_precision_curve")),
                            n_frames=sum(r.n_frames for r in per_video.values()))
        scores.append(TrackerScores(t, overall, float(np.mean(speeds)) if speeds else None,
                                    per_video))
    scores.sort(key=lambda s: -s.result.success_auc)
    return scores, skipped


def _fmt_fps(fps):
    return f"{fps:.1f}" if fps else "n/a"


def table_markdown(scores: List[TrackerScores], dataset: str = "") -> str:
    n_videos = len(scores[0].per_video) if scores else 0
    lines = [f"Comparison on {dataset or 'the dataset'} ({n_videos} videos)", "",
             "| tracker | success AUC | precision@20 | norm. precision | FPS |",
             "|---|---|---|---|---|"]
    for s in scores:
        r = s.result
        lines.append(f"| {s.name} | {r.success_auc:.3f} | {r.precision20:.3f} | "
                     f"{r.norm_precision:.3f} | {_fmt_fps(s.fps)} |")
    return "\n".join(lines) + "\n"


def table_csv(scores: List[TrackerScores]) -> str:
    rows = ["tracker,success_auc,precision20,norm_precision,fps,videos"]
    for s in scores:
        r = s.result
        rows.append(f"{s.name},{r.success_auc:.4f},{r.precision20:.4f},{r.norm_precision:.4f},"
                    f"{'' if s.fps is None else f'{s.fps:.2f}'},{len(s.per_video)}")
    return "\n".join(rows) + "\n"


def per_video_csv(scores: List[TrackerScores]) -> str:
    rows = ["tracker,video,success_auc,precision20,norm_precision,frames"]
    for s in scores:
        for v, r in s.per_video.items():
            rows.append(f"{s.name},{v},{r.success_auc:.4f},{r.precision20:.4f},"
                        f"{r.norm_precision:.4f},{r.n_frames}")
    return "\n".join(rows) + "\n"


def plot_curves(scores: List[TrackerScores], out_dir: str, dataset: str = "") -> list:
    """Write ``success_plot.png`` and ``precision_plot.png``; returns their paths."""
    from stmtrack_plugin.utils.figures import new_figure, save_figure

    styles = ["-", "--", "-.", ":"]
    paths = []
    specs = [("success_plot.png", IOU_THRESHOLDS, "success_curve", "success_auc",
              "Overlap threshold", "Success rate", "Success plot", "AUC"),
             ("precision_plot.png", CE_THRESHOLDS, "precision_curve", "precision20",
              "Location error threshold (px)", "Precision", "Precision plot", "P@20")]
    for fname, x, curve, key, xlabel, ylabel, title, label in specs:
        ranked = sorted(scores, key=lambda s: -getattr(s.result, key))
        fig = new_figure(figsize=(6.4, 4.8), dpi=100)
        ax = fig.subplots()
        for i, s in enumerate(ranked):
            ax.plot(x, getattr(s.result, curve), styles[(i // 10) % len(styles)], linewidth=2,
                    label=f"{s.name} [{label} {getattr(s.result, key):.3f}]")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}{' on ' + dataset if dataset else ''}")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left" if curve == "success_curve" else "lower right", fontsize=9)
        fig.tight_layout()
        paths.append(save_figure(fig, os.path.join(out_dir, fname)))
    return paths


def write_report(scores: List[TrackerScores], out_dir: str, dataset: str = "") -> dict:
    """Write the markdown and CSV tables and both plots into ``out_dir``; returns the paths."""
    paths = {"markdown": os.path.join(out_dir, "comparison.md"),
             "csv": os.path.join(out_dir, "comparison.csv"),
             "per_video": os.path.join(out_dir, "per_video.csv")}
    atomic_write_text(paths["markdown"], table_markdown(scores, dataset))
    atomic_write_text(paths["csv"], table_csv(scores))
    atomic_write_text(paths["per_video"], per_video_csv(scores))
    paths["success_plot"], paths["precision_plot"] = plot_curves(scores, out_dir, dataset)
    return paths
