"""Compare trackers side by side on one dataset: table (success AUC, precision@20, normalised
precision, FPS) as markdown and CSV, plus success and precision plots (PNG).

  stmtrack compare --dataset-root OTB_ROOT --results results/OTB2015 \\
      --trackers STMTrack SiamRPN++ --run-peers mil,nanotrack --out comparison/
  stmtrack compare --benchmark tnl2k --dataset-root TNL2K --results results/TNL2K --trackers A B

`--benchmark` reads the sequences with that benchmark's reader (adapters/benchmarks.py);
without it, OTB-layout folders are read.

`--results` holds one folder per tracker (ours, published raw results unpacked there, peers).
`--run-peers` first runs OpenCV peers on the dataset into that folder (resumable).
"""
from __future__ import annotations

import argparse
import os
import sys

from stmtrack_plugin.adapters.benchmarks import BENCHMARKS
from stmtrack_plugin.adapters.peers import PEER_NAMES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset-root", required=True,
                   help="OTB-layout sequences (<Seq>/img/*.jpg, groundtruth_rect.txt), or the "
                   "root of --benchmark")
    p.add_argument("--benchmark", choices=tuple(BENCHMARKS),
                   help="read the dataset root in this benchmark's layout")
    p.add_argument("--version", "--split", dest="version", help="benchmark version or split")
    p.add_argument("--results", required=True, help="folder with one sub-folder per tracker")
    p.add_argument("--trackers", nargs="*", default=[], help="result folder names to compare")
    p.add_argument("--run-peers", default="", help=f"run these first: {','.join(PEER_NAMES)}")
    p.add_argument("--nanotrack-dir", help="folder with the NanoTrack ONNX files")
    p.add_argument("--names", nargs="+", help="only these videos")
    p.add_argument("--max-frames", type=int, help="score (and run peers on) the first N frames")
    p.add_argument("--workers", type=int, default=1, help="processes for --run-peers")
    p.add_argument("--overwrite", action="store_true", help="--run-peers: re-run and replace "
                   "peer results made with other settings (--max-frames, --gt-base)")
    p.add_argument("--gt-base", type=int, choices=(0, 1), default=1,
                   help="index base of the ground truth (OTB: 1); peers start from the 0-based "
                   "box and their results are written in the ground truth's convention")
    p.add_argument("--title", default="", help="dataset name for titles")
    p.add_argument("--out", default="comparison", help="output folder")
    p.add_argument("--quiet", action="store_true")


def _load_benchmark(benchmark, version, root, names, max_frames):
    """``{name: (frames, (N, 4) ground truth)}`` read with the benchmark's table entry."""
    from stmtrack_plugin.adapters.benchmark_readers import CheckedLengths
    from stmtrack_plugin.adapters.benchmarks import benchmark_spec

    spec = benchmark_spec(benchmark)
    version = spec.version(version)
    if spec.protocol != "ope" or version in spec.withheld:
        raise ValueError(f"{spec.title} {version}: compare scores one-pass results against "
                         f"public ground truth")
    data = CheckedLengths(spec.reader(root, version))
    seqs = {}
    for name in names or data.seq_names:
        frames, gt = data[name]
        n = len(frames) if not max_frames else min(len(frames), max_frames)
        seqs[name] = (tuple(frames[:n]), gt[:n])
    return seqs


def _load_groundtruth(root, names, max_frames):
    from stmtrack_plugin.utils.sequences import find_otb_sequences, load_otb_sequence

    seqs = {}
    for name in names or find_otb_sequences(root):
        seq = load_otb_sequence(os.path.join(root, name))
        if seq.groundtruth is None:
            raise ValueError(f"{name}: no ground truth")
        n = len(seq) if not max_frames else min(len(seq), max_frames)
        seqs[name] = (tuple(seq.frames[:n]), seq.groundtruth[:n])
    return seqs


def _run_peers(peers, seqs, args) -> list:
    """Run each available peer; returns the names that could not run (with a message)."""
    from stmtrack_plugin.adapters.factory import TrackerSpec
    from stmtrack_plugin.adapters.layouts import OPELayout
    from stmtrack_plugin.adapters.peers import OpenCVPeer
    from stmtrack_plugin.adapters.runner import Job, run_jobs

    failed = []
    for peer in peers:
        spec = TrackerSpec(kind=peer, nanotrack_dir=args.nanotrack_dir)
        try:
            OpenCVPeer(peer, nanotrack_dir=args.nanotrack_dir)  # fail early, clearly
        except (RuntimeError, FileNotFoundError) as exc:
            print(f"skipping peer {peer}: {exc}", file=sys.stderr)
            failed.append(peer)
            continue
        base = float(args.gt_base)
        layout = OPELayout(os.path.join(args.results, peer), origin=base)
        jobs = [Job(name, frames, gt, layout, init_boxes=gt - [base, base, 0, 0])
                for name, (frames, gt) in seqs.items()]
        summary = run_jobs(spec, jobs, workers=args.workers, progress=not args.quiet, desc=peer,
                           overwrite=args.overwrite,
                           settings={"max_frames": args.max_frames, "gt_base": args.gt_base})
        print(f"{peer}: {summary.describe()}")
        if not summary.ok:
            failed.append(peer)
    return failed


def run(args) -> int:
    from stmtrack_plugin.evaluation.compare import score_trackers, table_markdown, write_report

    peers = [p for p in args.run_peers.split(",") if p]
    unknown = [p for p in peers if p not in PEER_NAMES]
    if unknown:
        print(f"error: unknown peer(s) {', '.join(unknown)}; choose from "
              f"{', '.join(PEER_NAMES)}", file=sys.stderr)
        return 2
    try:
        if args.benchmark:
            seqs = _load_benchmark(args.benchmark, args.version, args.dataset_root, args.names,
                                   args.max_frames)
        else:
            seqs = _load_groundtruth(args.dataset_root, args.names, args.max_frames)
        failed = _run_peers(peers, seqs, args) if peers else []
        trackers = list(dict.fromkeys(list(args.trackers) + [p for p in peers
                                                             if p not in failed]))
        if not trackers:
            raise ValueError("no trackers to compare (give --trackers and/or --run-peers)")
        gt = {name: g for name, (_, g) in seqs.items()}
        scores, skipped = score_trackers(gt, args.results, trackers)
    except (OSError, ValueError) as exc:  # also unwritable results, ResultMismatch
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if skipped:
        print(f"left out (not every tracker has results): {', '.join(skipped)}", file=sys.stderr)
    paths = write_report(scores, args.out, args.title)
    print(table_markdown(scores, args.title))
    print("wrote " + ", ".join(paths.values()))
    return 1 if failed else 0
