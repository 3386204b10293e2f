"""Run a benchmark through a toolkit's protocol and report it.

  stmtrack eval --toolkit got10k --benchmark otb --root OTB100 --params otb --weights W.pkl
  stmtrack eval --toolkit pysot --dataset VOT2018 --root VOT2018 --params vot2018 --weights W.pkl
  stmtrack eval --benchmark got10k --split test --root GOT10k --weights W.pkl  # server zip

Benchmarks, their layouts and default parameters: adapters/benchmarks.py (one table).

Re-running resumes (finished sequences are skipped); a result made with other weights,
parameters or --max-frames is never reused: the run stops naming what differs, and `--overwrite`
replaces such results. `--workers N` runs N processes; a sequence that fails is reported and the
others go on (exit status 1 if any failed). `--batch K` tracks K sequences in lockstep with one
batched network call per frame step (one process; boxes equal the unbatched run's to ~1e-4 px);
`--lanes L` splits it into L groups that step at the same time (each a batch of about K / L on
--threads / L threads), which keeps every core of a CPU busy without OpenMP's hand-offs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from stmtrack_plugin.adapters.benchmarks import BENCHMARKS, default_params
from stmtrack_plugin.adapters.factory import TrackerSpec
from stmtrack_plugin.adapters.peers import PEER_NAMES
from stmtrack_plugin.adapters.shard import select_shard, shard_argument, shard_report_note
from stmtrack_plugin.utils.io import ensure_writable


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--toolkit", choices=("got10k", "pysot"), default="got10k")
    p.add_argument("--benchmark", choices=tuple(BENCHMARKS), help="got10k experiment")
    p.add_argument("--version", "--split", dest="version", help="benchmark version or split: "
                   + "; ".join(f"{k} {'/'.join(s.versions)}" for k, s in BENCHMARKS.items()
                               if len(s.versions) > 1))
    p.add_argument("--dataset", help="pysot dataset name (OTB100, UAV123, LaSOT, VOT2018, ...)")
    p.add_argument("--init-rule", choices=("stmtrack", "pysot"), default="stmtrack",
                   help="pysot toolkit: initial box from the ground truth as the authors' testers "
                        "do (default) or as pysot's tools/test.py (+0.5 px for rectangles)")
    p.add_argument("--root", required=True, help="dataset root")
    p.add_argument("--results", default="results", help="results folder")
    p.add_argument("--reports", default="reports", help="reports folder (got10k)")
    p.add_argument("--tracker", default="stmtrack", choices=("stmtrack",) + PEER_NAMES)
    p.add_argument("--name", help="results name (default STMTrack, or the peer's name)")
    p.add_argument("--params", help="parameter name or .py file (default: lite for a Lite0 "
                   "checkpoint, else the benchmark's own, e.g. otb, uav123, lasot, got10k, "
                   "vot2018)")
    p.add_argument("--weights", help="checkpoint (default $STMTRACK_WEIGHTS, else the built-in "
                   "model)")
    p.add_argument("--device", help="torch device, e.g. cpu or cuda:0")
    p.add_argument("--nanotrack-dir", help="folder with the NanoTrack ONNX files")
    p.add_argument("--workers", type=int, default=1, help="processes (sequences in parallel)")
    p.add_argument("--threads", type=int, help="torch/OpenCV threads per process")
    p.add_argument("--batch", type=int, default=1, metavar="K", help="track K sequences at "
                   "once with batched network calls (stmtrack only, one process; same results)")
    p.add_argument("--lanes", type=int, default=1, metavar="L", help="split --batch into L "
                   "groups stepping at the same time, each on --threads / L threads (CPUs)")
    p.add_argument("--max-frames", type=int, help="only the first N frames (smoke runs)")
    p.add_argument("--compare", nargs="*", default=[],
                   help="other result names to report next to ours (got10k)")
    p.add_argument("--overwrite", action="store_true", help="re-run and replace existing "
                   "results made with other weights, parameters or --max-frames")
    p.add_argument("--shard", type=shard_argument, metavar="I/N", help="run only share I of N "
                   "(0-based) of the sequences, for N jobs filling one results folder")
    p.add_argument("--no-report", action="store_true", help="run only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _spec(args) -> TrackerSpec:
    name = args.name or ("STMTrack" if args.tracker == "stmtrack" else args.tracker)
    fallback = default_params(args.benchmark if args.toolkit == "got10k" else args.dataset)
    return TrackerSpec(kind=args.tracker, params=args.params, fallback_params=fallback,
                       weights=args.weights,
                       device=args.device, nanotrack_dir=args.nanotrack_dir, label=name)


def run_got10k(args, spec: TrackerSpec) -> int:
    from stmtrack_plugin.adapters import got10k_experiments as gx
    from stmtrack_plugin.adapters.runner import run_jobs

    if not args.benchmark:
        print("error: --benchmark is required with --toolkit got10k", file=sys.stderr)
        return 2
    exp = gx.make_experiment(args.benchmark, args.root, args.results, args.reports,
                             args.max_frames, args.version)
    if not args.no_report:
        ensure_writable(args.reports, "reports")
    if getattr(exp, "selection_note", ""):  # OTB: which folders run, which are left out
        print(exp.selection_note, file=sys.stderr)
    jobs = gx.make_jobs(exp, spec.name)
    summary = run_jobs(spec, select_shard(jobs, *args.shard) if args.shard else jobs,
                       workers=args.workers,
                       progress=not args.quiet, desc=f"{spec.name} {args.benchmark}",
                       threads_per_worker=args.threads, overwrite=args.overwrite,
                       settings={"max_frames": args.max_frames}, batch=args.batch,
                       lanes=args.lanes)
    print(summary.describe())
    if not args.no_report and summary.ok:
        if shard_report_note(jobs, args.shard):
            print(shard_report_note(jobs, args.shard))
        elif gx.withheld(exp):
            path = gx.pack_submission(exp, spec.name)
            if args.max_frames:
                print(f"warning: --max-frames {args.max_frames} truncated the results; the "
                      f"server expects every frame", file=sys.stderr)
            print(f"{exp.spec.title} {exp.version}: ground truth withheld; submit {path} "
                  f"to the server")
        else:
            perf = exp.report([spec.name] + list(args.compare))
            print(json.dumps(_headline(perf), indent=2))
    return 0 if summary.ok else 1


def _headline(perf: dict) -> dict:
    """The scalar scores of a got10k report (no curves)."""
    out = {}
    for name, entry in perf.items():
        scores = entry.get("overall", entry)
        out[name] = {k: v for k, v in scores.items() if not isinstance(v, (list, dict))}
    return out


def run_pysot(args, spec: TrackerSpec) -> int:
    from stmtrack_plugin.adapters import pysot
    from stmtrack_plugin.adapters.runner import run_jobs

    if not args.dataset:
        print("error: --dataset is required with --toolkit pysot", file=sys.stderr)
        return 2
    jobs = pysot.make_jobs(args.root, args.dataset, args.results, spec.name, args.max_frames,
                           init_rule=args.init_rule)
    summary = run_jobs(spec, select_shard(jobs, *args.shard) if args.shard else jobs,
                       workers=args.workers, progress=not args.quiet,
                       desc=f"{spec.name} {args.dataset}", threads_per_worker=args.threads,
                       overwrite=args.overwrite, batch=args.batch, lanes=args.lanes,
                       settings={"max_frames": args.max_frames, "init_rule": args.init_rule})
    print(summary.describe())
    print(f"results: {os.path.join(args.results, args.dataset, spec.name)}")
    return 0 if summary.ok else 1


def _batch_error(args) -> str:
    """Why ``--batch`` cannot be honoured with the other options ("" when it can)."""
    if args.batch < 1:
        return f"--batch must be >= 1, got {args.batch}"
    if args.batch > 1 and args.workers > 1:
        return "--batch K runs the K sequences in one process; use --workers 1 (and --threads)"
    if args.batch > 1 and args.tracker != "stmtrack":
        return f"--batch > 1 needs --tracker stmtrack (got {args.tracker})"
    if not 1 <= args.lanes <= args.batch:
        return f"--lanes must be between 1 and --batch ({args.batch}), got {args.lanes}"
    return ""


def run(args) -> int:
    if _batch_error(args):
        print(f"error: {_batch_error(args)}", file=sys.stderr)
        return 2
    try:
        spec = _spec(args)
        ensure_writable(args.results, "results")
        if args.toolkit == "got10k":
            return run_got10k(args, spec)
        return run_pysot(args, spec)
    except (OSError, KeyError, ValueError, RuntimeError) as exc:
        # missing weights / dataset / parameter file, unavailable peer, unwritable results,
        # results made differently (provenance.ResultMismatch): no traceback needed
        print(f"error: {exc}", file=sys.stderr)
        return 2
