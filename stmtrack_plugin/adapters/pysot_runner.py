"""``stmtrack-pysot``: run STMTrack inside a pysot checkout, as pysot's ``tools/test.py`` would.

  stmtrack-pysot --pysot-root ~/pysot --dataset VOT2018 --params vot2018 --weights W.pkl
  python -m stmtrack_plugin.adapters.pysot_runner --pysot-root ~/pysot --dataset OTB100 ...

Videos come from the checkout's own dataset classes: ``DatasetFactory.create_dataset(name=...,
dataset_root=..., load_img=False)`` of ``toolkit.datasets`` (STVIR/pysot) or ``pysot.datasets``
(StrangerZhang/pysot-toolkit), reading ``<dataset_root>/<DATASET>.json`` (default root
``<pysot-root>/testing_dataset/<DATASET>``, as ``tools/test.py``). Each video is tracked by
:class:`pysot_tracker.PysotTracker` (pysot's ``init`` / ``track`` interface) in test.py's loop
(:func:`pysot_tracker.run_test_loop`) and written where test.py writes:

* VOT2016/2018/2019: ``<results>/<DATASET>/<name>/baseline/<video>/<video>_001.txt``;
* GOT-10k: ``<results>/GOT-10k/<name>/<video>/<video>_001.txt`` (+ ``_time.txt``);
* every other dataset: ``<results>/<DATASET>/<name>/<video>.txt``.

Files are written atomically; a re-run resumes (finished videos are skipped) and never reuses a
result made with other weights, parameters or init rule (:mod:`provenance`; ``--overwrite``
replaces such results). VOT2018-LT (``longterm/``) is not supported.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from stmtrack_plugin.adapters import provenance
from stmtrack_plugin.adapters.benchmarks import default_params, is_reset_dataset
from stmtrack_plugin.adapters.factory import TrackerSpec
from stmtrack_plugin.adapters.layouts import BaselineLayout, GOT10kLayout, OPELayout
from stmtrack_plugin.adapters.protocols import INIT_RULES
from stmtrack_plugin.adapters.pysot_tracker import PysotSpec, run_test_loop
from stmtrack_plugin.adapters.runner import Job

#: the package holding ``datasets.DatasetFactory``, per checkout kind (never both on sys.path)
DATASET_PACKAGES = (("toolkit", "STVIR/pysot"), ("pysot", "StrangerZhang/pysot-toolkit"))
#: what tells this run's results apart from ``stmtrack eval --toolkit pysot`` results
LOOP = "pysot tools/test.py"


def datasets_package(root: str) -> str:
    """``"toolkit"`` (STVIR/pysot) or ``"pysot"`` (pysot-toolkit): where ``datasets/`` is."""
    for package, _ in DATASET_PACKAGES:
        if os.path.isfile(os.path.join(root, package, "datasets", "__init__.py")):
            return package
    kinds = " or ".join(f"{p}/datasets/__init__.py ({repo})" for p, repo in DATASET_PACKAGES)
    raise FileNotFoundError(f"{root} is not a pysot checkout: no {kinds}")


def _from_elsewhere(module, root: str) -> bool:
    paths = [getattr(module, "__file__", None)] + list(getattr(module, "__path__", []) or [])
    paths = [os.path.realpath(p) for p in paths if p]
    return not any(p.startswith(os.path.realpath(root) + os.sep) for p in paths)


def import_dataset_factory(root: str):
    """The checkout's ``DatasetFactory``, imported from ``root`` (modules of the same top-level
    name imported from elsewhere are dropped first; ``root`` stays off sys.path afterwards)."""
    root = os.path.abspath(os.path.expanduser(root))
    package = datasets_package(root)
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        if _from_elsewhere(sys.modules[name], root):
            del sys.modules[name]
    sys.path.insert(0, root)
    try:
        module = importlib.import_module(f"{package}.datasets")
    finally:
        sys.path.remove(root)
    factory = getattr(module, "DatasetFactory", None)
    if factory is None:
        raise ImportError(f"{package}.datasets in {root} has no DatasetFactory")
    return factory


def load_dataset(root: str, dataset: str, dataset_root: Optional[str] = None):
    """The checkout's dataset object (iterating it yields pysot ``Video`` objects)."""
    factory = import_dataset_factory(root)
    dataset_root = dataset_root or os.path.join(root, "testing_dataset", dataset)
    dataset_root = os.path.abspath(os.path.expanduser(dataset_root))
    if not os.path.isdir(dataset_root):
        raise FileNotFoundError(f"dataset root {dataset_root} does not exist (--dataset-root)")
    try:
        return factory.create_dataset(name=dataset, dataset_root=dataset_root, load_img=False)
    except (OSError, ValueError, KeyError):
        raise
    except Exception as exc:  # pysot raises a bare Exception("unknow dataset ...")
        raise ValueError(f"pysot cannot load dataset {dataset!r} from {dataset_root}: "
                         f"{exc}") from exc


@dataclass(frozen=True)
class PysotJob(Job):
    """A :class:`runner.Job` whose sequence is a pysot ``Video``, run by test.py's loop."""

    video: object = None
    init_rule: str = "stmtrack"

    def execute(self, tracker, run_record: Optional[dict] = None, on_frame=None) -> None:
        result = run_test_loop(tracker, self.video, self.protocol == "reset", self.init_rule,
                               self.skip, on_frame)
        if self.done:
            os.remove(self.layout.result_file(self.name))
        if run_record is not None:
            provenance.write_record(self.layout.root, self.name, self.record(run_record))
        self.layout.write(self.name, result)


def layout_for(dataset: str, out: str):
    """(layout, protocol) of tools/test.py for a dataset name."""
    # tools/test.py compares the names case-sensitively: VOT2016, VOT2018, VOT2019
    if is_reset_dataset(dataset) and dataset.isupper():
        return BaselineLayout(out), "reset"
    if dataset == "VOT2018-LT":
        raise ValueError("VOT2018-LT (longterm/ results with confidences) is not supported")
    if dataset == "GOT-10k":
        return GOT10kLayout(out), "ope"
    return OPELayout(out), "ope"


def make_jobs(pysot_dataset, dataset: str, results: str, name: str,
              videos: Optional[Sequence[str]] = None, init_rule: str = "stmtrack") -> list:
    """One :class:`PysotJob` per video of the checkout's dataset (``videos``: only these)."""
    layout, protocol = layout_for(dataset, os.path.join(results, dataset, name))
    by_name = {video.name: video for video in pysot_dataset}
    missing = sorted(set(videos or ()) - set(by_name))
    if missing:
        raise KeyError(f"no video named {', '.join(missing)} in {dataset} "
                       f"({len(by_name)} videos)")
    jobs = []
    for video_name, video in by_name.items():
        if videos and video_name not in videos:
            continue
        gt = np.asarray(video.gt_traj, dtype=np.float64)
        jobs.append(PysotJob(video_name, tuple(video.img_names), gt, layout, protocol=protocol,
                             video=video, init_rule=init_rule))
    return jobs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stmtrack-pysot", description=__doc__.split("\n")[0])
    p.add_argument("--pysot-root", required=True, help="STVIR/pysot or pysot-toolkit checkout")
    p.add_argument("--dataset", required=True, help="pysot dataset name (OTB100, VOT2018, ...)")
    p.add_argument("--dataset-root", help="folder with <DATASET>.json "
                   "(default <pysot-root>/testing_dataset/<DATASET>)")
    p.add_argument("--results", default="results", help="results folder (test.py: results)")
    p.add_argument("--name", default="STMTrack", help="tracker folder name (pysot model_name)")
    p.add_argument("--params", help="parameter name or .py file (default: lite for a Lite0 "
                   "checkpoint, else the dataset's own)")
    p.add_argument("--weights", help="checkpoint (default $STMTRACK_WEIGHTS, else the built-in "
                   "model)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda:0")
    p.add_argument("--video", action="append", default=[], help="only this video (repeatable)")
    p.add_argument("--init-rule", choices=INIT_RULES, default="stmtrack",
                   help="initial box as the authors' testers (default) or exactly as "
                        "tools/test.py (pysot)")
    p.add_argument("--threads", type=int, help="torch/OpenCV threads")
    p.add_argument("--overwrite", action="store_true", help="re-run and replace existing "
                   "results made with other weights, parameters or init rule")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    from stmtrack_plugin.adapters.runner import run_jobs

    args = build_parser().parse_args(argv)
    try:
        spec = TrackerSpec(params=args.params, fallback_params=default_params(args.dataset),
                           weights=args.weights, device=args.device, label=args.name)
        dataset = load_dataset(args.pysot_root, args.dataset, args.dataset_root)
        jobs = make_jobs(dataset, args.dataset, args.results, args.name, args.video,
                         args.init_rule)
        summary = run_jobs(PysotSpec(spec), jobs, progress=not args.quiet,
                           desc=f"{args.name} {args.dataset}", threads_per_worker=args.threads,
                           overwrite=args.overwrite,
                           settings={"init_rule": args.init_rule, "loop": LOOP})
    except (OSError, ImportError, KeyError, ValueError, RuntimeError) as exc:
        # not a checkout, missing json / weights / parameter file, unknown dataset or video,
        # unwritable results, results made differently (provenance.ResultMismatch)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.describe())
    print(f"results: {os.path.join(args.results, args.dataset, args.name)}")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
