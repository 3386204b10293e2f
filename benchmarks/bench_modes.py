"""Compute and memory modes side by side on a fixed list of shared sequences.

  OMP_NUM_THREADS=1 python benchmarks/bench_modes.py --frames 8 --threads 1
  python benchmarks/bench_modes.py --sequences Crossing Car4 --weights epoch-19.pkl
  python benchmarks/bench_modes.py --weights lite.pth --params lite --modes exact crops

Sequences: the first ``--frames`` frames of Crossing, Car4 and bag (``../shared/data/sequences``)
unless ``--sequences`` names others (names there, or OTB-layout folders). Frame 0 initialises
(not timed); frames 1..N-1 are tracked and timed. Modes (the table ``MODES``):

* ``plain``: the network as built, float32 (what ``STMTracker(model, params)`` runs on a model
  that was not prepared; the speed before ``prepare_for_inference`` existed);
* ``exact``: ``prepare_for_inference`` in float32 (BN folded, channels-last): the default of
  ``STMTracker.from_params``, within the parity tolerances of the authors' tracker;
* ``bfloat16``: prepared with ``compute_dtype="bfloat16"`` (opt-in);
* ``crops``: the exact path with ``memory_mode="crops"`` (opt-in low-memory mode: the memory
  keeps uint8 crops and re-encodes the ones the selection rule reads);
* ``parallel``: the exact path with ``parallel_stages=True`` (opt-in, bit-identical: the query
  encoder beside the memory side and the two head towers at once, on two threads, so it uses
  up to twice the torch threads' cores).

Speed and boxes: every tracker runs in one process on the same frames; each frame is given to
every tracker in turn (interleaved), so load on a shared machine hits all modes alike. Printed per
sequence and over all sequences: median ms per tracked frame (over all tracked frames of all
sequences for the summary), FPS (1 / median), speed-up over ``plain`` and, against ``exact``, the
largest box difference (px) and the mean IoU.

Peak RSS: resident memory belongs to a process, so for each mode a child process (this script
with ``--rss-child MODE``, run after the interleaved part, one at a time) builds only that mode's
network, tracks the same frames alone and reports its peak resident memory (Linux: ``VmHWM``, the
high-water mark of its own memory; Python, torch, the model and tracking), and the mark after
building the network. (``ru_maxrss`` would not do: across fork + exec it keeps the parent's peak.)

The header names the machine, torch, the thread settings and the 1-minute load average at start
and end: on a shared machine the figures depend on the load. Without ``--weights`` every mode gets
the same seeded random weights (seed 0) of ``--params``' model (its compute, no tracking ability).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _bench_common import SHARED, box_iou, load_average, machine_line, peak_rss_mb  # noqa: E402

__all__ = ["MODES", "DEFAULT_SEQUENCES", "box_iou", "build_network", "main"]

#: mode: (dtype given to prepare_for_inference, or None for the unprepared network;
#: TrackerParams fields the mode sets)
MODES = {
    "plain": (None, {}),
    "exact": ("float32", {}),
    "bfloat16": ("bfloat16", {"compute_dtype": "bfloat16"}),
    "crops": ("float32", {"memory_mode": "crops"}),
    "parallel": ("float32", {"parallel_stages": True}),
}
DEFAULT_SEQUENCES = ("Crossing", "Car4", "bag")


def build_network(mode: str, params, weights):
    """A fresh network for ``mode`` (each tracker has its own: preparation changes the module)."""
    from stmtrack_plugin.model import build_model, build_model_from_checkpoint
    from stmtrack_plugin.model.inference import COMPUTE_DTYPES, prepare_for_inference
    from stmtrack_plugin.model.random_weights import randomize_model

    if weights:
        model = build_model_from_checkpoint(weights)
    else:
        model = randomize_model(build_model(params.model), seed=0).eval()
    dtype = MODES[mode][0]
    return model if dtype is None else prepare_for_inference(model, COMPUTE_DTYPES[dtype])


def make_tracker(mode: str, network, params):
    from stmtrack_plugin.tracking import STMTracker

    return STMTracker(network, dataclasses.replace(params, **MODES[mode][1]))


def sequence_folder(name: str) -> str:
    """``name`` itself if it is a folder, else the shared sequence of that name."""
    folder = name if os.path.isdir(name) else os.path.join(SHARED, "data", "sequences", name)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"sequence {name!r}: no such folder, nor {folder}")
    return folder


def load_clips(names, frames: int):
    """[(sequence, number of frames used)]: the first ``frames`` frames (all, if fewer)."""
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    clips = []
    for name in names:
        seq = load_otb_sequence(sequence_folder(name))
        clips.append((seq, min(frames, len(seq))))
    return clips


def track_interleaved(trackers, seq, n):
    """Track frames 0..n-1 of ``seq``, each frame with every tracker in turn.

    Returns ({mode: seconds per tracked frame, (n-1,)}, {mode: xywh boxes, (n, 4)}; row 0 is the
    initial box).
    """
    from stmtrack_plugin.utils.io import read_image_bgr

    first = read_image_bgr(seq.frames[0])
    times = {m: [] for m in trackers}
    boxes = {m: [list(seq.groundtruth[0])] for m in trackers}
    for t in trackers.values():
        t.initialize(first, seq.groundtruth[0])
    for i in range(1, n):
        frame = read_image_bgr(seq.frames[i])
        for mode, tracker in trackers.items():
            start = time.perf_counter()
            boxes[mode].append(list(tracker.track(frame).box))
            times[mode].append(time.perf_counter() - start)
    return ({m: np.array(v) for m, v in times.items()},
            {m: np.array(v, dtype=np.float64) for m, v in boxes.items()})


def rss_child(mode: str, params, args) -> int:
    """Track every clip with ``mode`` alone; print {"mode", "peak_rss_mb", "after_build_mb"}."""
    from stmtrack_plugin.utils.io import read_image_bgr

    network = build_network(mode, params, args.weights)
    after_build = peak_rss_mb()
    tracked = 0
    for seq, n in load_clips(args.sequences, args.frames):
        tracker = make_tracker(mode, network, params)
        tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
        for i in range(1, n):
            tracker.track(read_image_bgr(seq.frames[i]))
            tracked += 1
    print(json.dumps({"mode": mode, "peak_rss_mb": round(peak_rss_mb(), 1),
                      "after_build_mb": round(after_build, 1), "tracked_frames": tracked}))
    return 0


def measure_rss(mode: str, args) -> dict:
    """Run ``--rss-child mode`` in a fresh process with the same settings; its JSON line."""
    cmd = [sys.executable, os.path.abspath(__file__), "--sequences", *args.sequences,
           "--frames", str(args.frames), "--params", args.params, "--threads", str(args.threads),
           "--rss-child", mode]
    if args.weights:
        cmd += ["--weights", args.weights]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"RSS child for mode {mode!r} failed (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result.get("mode") != mode:
        raise RuntimeError(f"RSS child for mode {mode!r} answered {lines[-1]!r}")
    return result


def table(times, boxes, rss=None):
    """Lines of one table; ``times``/``boxes`` as from :func:`track_interleaved` (or joined)."""
    head = (f"{'mode':10s} {'ms/frame':>9s} {'FPS':>6s} {'vs plain':>9s} {'max |dbox| px':>14s} "
            f"{'mean IoU':>9s}")
    if rss is not None:
        head += f" {'peak RSS MB':>12s} {'after build MB':>15s}"
    lines = [head]
    base = np.median(times["plain"]) if "plain" in times else None
    ref = boxes.get("exact")
    for mode in times:
        med = float(np.median(times[mode]))
        speed = f"{base / med:.2f}x" if base else "-"
        diff = iou = "-"
        if ref is not None:
            b = boxes[mode]
            diff = f"{np.abs(b - ref).max():.2e}"
            iou = f"{box_iou(b[1:], ref[1:]).mean():.4f}" if len(b) > 1 else "-"
        line = f"{mode:10s} {med * 1e3:9.1f} {1 / med:6.2f} {speed:>9s} {diff:>14s} {iou:>9s}"
        if rss is not None:
            line += f" {rss[mode]['peak_rss_mb']:12.0f} {rss[mode]['after_build_mb']:15.0f}"
        lines.append(line)
    return lines


def join_boxes(per_seq):
    """Stack per-sequence boxes so that row 0 is the only untracked row (for :func:`table`)."""
    return np.concatenate([per_seq[0][:1]] + [b[1:] for b in per_seq])


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sequences", nargs="+", default=list(DEFAULT_SEQUENCES),
                   help="shared sequence names or OTB-layout folders (default: %(default)s)")
    p.add_argument("--frames", type=int, default=8,
                   help="first N frames of each sequence (frame 0 initialises; default 8)")
    p.add_argument("--weights", default=None, help="checkpoint (default: seeded random weights)")
    p.add_argument("--params", default="default", help="parameter name or .py file")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--no-rss", action="store_true", help="skip the per-mode RSS child processes")
    p.add_argument("--rss-child", choices=list(MODES), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.frames < 2:
        p.error("--frames must be >= 2 (frame 0 only initialises)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from stmtrack_plugin.config import load_parameters

    torch.set_num_threads(args.threads)
    params = load_parameters(args.params)
    if args.rss_child:
        return rss_child(args.rss_child, params, args)
    load_start = load_average()
    clips = load_clips(args.sequences, args.frames)
    networks = {mode: build_network(mode, params, args.weights) for mode in args.modes}
    out, all_times, all_boxes = [], {m: [] for m in args.modes}, {m: [] for m in args.modes}
    for seq, n in clips:
        print(f"tracking {seq.name} ...", file=sys.stderr, flush=True)
        trackers = {mode: make_tracker(mode, networks[mode], params) for mode in args.modes}
        times, boxes = track_interleaved(trackers, seq, n)
        out += [f"{seq.name}: frames 0-{n - 1} ({n - 1} tracked)"] + table(times, boxes)
        for mode in args.modes:
            all_times[mode].append(times[mode])
            all_boxes[mode].append(boxes[mode])
    del networks, trackers
    rss = None
    if not args.no_rss:
        rss = {}
        for mode in args.modes:
            print(f"peak RSS of mode {mode} (child process) ...", file=sys.stderr, flush=True)
            rss[mode] = measure_rss(mode, args)
    total = sum(n - 1 for _, n in clips)
    summary = table({m: np.concatenate(v) for m, v in all_times.items()},
                    {m: join_boxes(v) for m, v in all_boxes.items()}, rss)
    weights = f"weights {args.weights}" if args.weights else "seeded random weights (seed 0)"
    print(machine_line())
    print(f"load average (1 min): {load_start:.2f} at start, {load_average():.2f} at end")
    print(f"params {params.name}; {weights}; first {args.frames} frames of "
          f"{', '.join(s.name for s, _ in clips)}; modes interleaved frame by frame in one "
          f"process; box columns against exact")
    print("\n".join(out))
    print(f"all {len(clips)} sequences ({total} tracked frames; median over all of them)")
    print("\n".join(summary))
    if rss is not None:
        print("peak RSS: high-water mark of resident memory (VmHWM) of one child process per "
              "mode that builds only that mode's network and tracks the same frames alone "
              "(Python, torch, model and tracking); after build: the same mark once the network "
              "is built")
    return 0


if __name__ == "__main__":
    sys.exit(main())
