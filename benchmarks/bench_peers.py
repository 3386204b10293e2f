"""Tracking speed of STMTrack (the built-in lite model by default) and the OpenCV peers, side by
side in one process on the same frames.

    OMP_NUM_THREADS=1 python benchmarks/bench_peers.py --frames 100 --threads 1
    python benchmarks/bench_peers.py --weights epoch-19.pkl --params otb --peers csrt nanotrack

Each frame is read once and given to every tracker in turn (``bench_modes.track_interleaved``),
so load on a shared machine hits all trackers alike. Printed: a header with the machine, thread
settings and load, then per tracker the median ms per tracked frame over all sequences (frame 0
is initialisation and not timed), FPS = 1 / median, and the mean IoU with the ground truth on
these frames. Peers missing from the installed OpenCV (CSRT and KCF need the contrib build of
the same version) are listed as skipped.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _bench_common import box_iou, load_average, machine_line  # noqa: E402
from bench_modes import DEFAULT_SEQUENCES, load_clips, track_interleaved  # noqa: E402

PEERS = ("csrt", "kcf", "mil", "nanotrack")


def build_trackers(args):
    """{name: tracker}: STMTrack first, then every peer this OpenCV provides; and the skipped."""
    from stmtrack_plugin.adapters.peers import OpenCVPeer
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.weights import choose_params

    params = load_parameters(choose_params(args.params, args.weights))
    trackers = {f"stmtrack ({params.name})": STMTracker.from_params(params, args.weights)}
    skipped = []
    for name in args.peers:
        try:
            trackers[name] = OpenCVPeer(name, args.nanotrack_dir)
        except (RuntimeError, FileNotFoundError) as exc:
            skipped.append(f"{name}: {str(exc).splitlines()[0]}")
    return trackers, skipped


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sequences", nargs="+", default=list(DEFAULT_SEQUENCES),
                   help="shared sequence names or OTB-layout folders")
    p.add_argument("--frames", type=int, default=100, help="first N frames of each sequence")
    p.add_argument("--weights", default=None, help="default: as every run (built-in model)")
    p.add_argument("--params", default=None, help="default: the one the weights call for")
    p.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    p.add_argument("--nanotrack-dir", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    args = p.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    start_load = load_average()
    trackers, skipped = build_trackers(args)
    times = {name: [] for name in trackers}
    ious = {name: [] for name in trackers}
    for seq, n in load_clips(args.sequences, args.frames):
        seq_times, seq_boxes = track_interleaved(trackers, seq, n)
        for name in trackers:
            times[name] += list(seq_times[name])
            ious[name] += list(box_iou(seq_boxes[name][1:], np.asarray(seq.groundtruth[1:n])))
    print(machine_line())
    print(f"load average (1 min): {start_load:.2f} at start, {load_average():.2f} at end; "
          f"OpenCV {cv2.__version__}, cv2 threads {args.threads}")
    print(f"first {args.frames} frames of {', '.join(args.sequences)}; trackers interleaved frame "
          f"by frame in one process")
    print(f"{'tracker':<22}{'ms/frame':>10}{'FPS':>9}{'mean IoU':>10}")
    for name in trackers:
        ms = float(np.median(times[name])) * 1e3
        print(f"{name:<22}{ms:>10.1f}{1e3 / ms:>9.1f}{np.mean(ious[name]):>10.3f}")
    for line in skipped:
        print(f"skipped {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
