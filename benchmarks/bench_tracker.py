"""Tracker speed and memory: median frame time (FPS), peak RSS, memory-bank size.

  python benchmarks/bench_tracker.py ../shared/data/sequences/Crossing --frames 30
  python benchmarks/bench_tracker.py SEQ --weights epoch-19.pkl --device cuda --frames 300
  python benchmarks/bench_tracker.py SEQ --standin --frames 600      # tracker overhead only
  python benchmarks/bench_tracker.py --bank-only 10000               # bank size by the rule
  python benchmarks/bench_tracker.py SEQ --memory-mode crops --frames 300   # low-memory mode

Without --weights the full-size model gets seeded random weights (seed 0; same compute as the
released model, no tracking ability). --standin drives the tracker with the parity stand-in
model (crops, post-processing and memory bookkeeping without the network). FPS is 1 / median
frame time over frames 1..N-1 (frame 0 = initialize, no network call), as in STMTRACK_SPEC §6;
the mean of 1 / t over the same frames is printed too: the figure got10k reports, `stmtrack
compare` and the eval progress bar show (evaluation.metrics.tracking_fps).
Frames longer than the sequence wrap around (the frames are re-read; the tracker continues).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _bench_common import SHARED, load_average, machine_line, peak_rss_mb  # noqa: E402


def bank_only(n_frames: int, num_segments: int = 4, bytes_per_frame: int = 512 * 25 * 25 * 4):
    """Stored frames after n frames, by the exact pruning rule (no model needed)."""
    from stmtrack_plugin.tracking.memory import oldest_needed_frame

    for n in (1000, 2500, n_frames):
        kept = 1 + n - oldest_needed_frame(n, num_segments)
        print(f"after {n:6d} frames: {kept:6d} stored frames kept by the exact rule "
              f"(authors: {n}); fp32 {kept * bytes_per_frame / 2**30:.2f} GiB, "
              f"fp16 {kept * bytes_per_frame / 2**31:.2f} GiB")


def build_tracker(args):
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking import STMTracker

    overrides = {}
    if args.max_memory_frames:
        overrides["max_memory_frames"] = args.max_memory_frames
    if args.storage_dtype:
        overrides["storage_dtype"] = args.storage_dtype
    if args.memory_mode:
        overrides["memory_mode"] = args.memory_mode
    if args.compute_dtype:
        overrides["compute_dtype"] = args.compute_dtype
    params = load_parameters(args.params, **overrides)
    if args.standin:
        sys.path.insert(0, os.path.join(SHARED, "parity"))
        from standin_model import StandInModel

        return STMTracker(StandInModel(), params, device="cpu"), "stand-in model"
    if args.weights:
        return STMTracker.from_params(params, args.weights, args.device), args.weights
    from stmtrack_plugin.model import build_model
    from stmtrack_plugin.model.inference import COMPUTE_DTYPES, prepare_for_inference
    from stmtrack_plugin.model.random_weights import randomize_model

    # prepared as STMTracker.from_params prepares a checkpoint's network
    model = randomize_model(build_model(params.model), seed=0).eval().to(args.device)
    model = prepare_for_inference(model, COMPUTE_DTYPES[params.compute_dtype])
    return STMTracker(model, params, device=args.device), "seeded random weights (seed 0)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sequence", nargs="?", default=os.path.join(SHARED, "data", "sequences", "Crossing"))
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--weights", default=None)
    p.add_argument("--params", default="default")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--standin", action="store_true")
    p.add_argument("--max-memory-frames", type=int, default=None)
    p.add_argument("--storage-dtype", default=None, choices=["float32", "float16", "bfloat16"])
    p.add_argument("--memory-mode", default=None, choices=["features", "crops"])
    p.add_argument("--compute-dtype", default=None, choices=["float32", "bfloat16"])
    p.add_argument("--bank-only", type=int, default=None, metavar="N")
    args = p.parse_args(argv)
    if args.bank_only:
        bank_only(args.bank_only)
        return 0
    import torch

    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    if args.threads:
        torch.set_num_threads(args.threads)
    seq = load_otb_sequence(args.sequence)
    tracker, what = build_tracker(args)
    rss_before = peak_rss_mb()
    times = []
    tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
    for i in range(1, args.frames):
        frame = read_image_bgr(seq.frames[i % len(seq)])
        start = time.perf_counter()
        tracker.track(frame)
        if tracker.device.type == "cuda":
            torch.cuda.synchronize(tracker.device)
        times.append(time.perf_counter() - start)
    from stmtrack_plugin.evaluation.metrics import tracking_fps

    t = np.array(times)
    print(machine_line())
    print(f"model: {what}; device {tracker.device}; load average (1 min) {load_average():.2f}")
    print(f"{seq.name}: {args.frames} frames; median frame time {np.median(t) * 1e3:.1f} ms "
          f"({1 / np.median(t):.2f} FPS); p90 {np.percentile(t, 90) * 1e3:.1f} ms; mean of 1/t "
          f"{tracking_fps(t):.2f} FPS")
    print(f"peak RSS {peak_rss_mb():.0f} MB (after model build {rss_before:.0f} MB); memory bank "
          f"{len(tracker.memory)} frames, {tracker.memory.nbytes() / 2**20:.1f} MB")
    if len(tracker.memory):
        print(f"memory bank: {tracker.memory.nbytes() / len(tracker.memory) / 2**10:.0f} KiB per "
              f"stored frame ({tracker.params.memory_mode} mode)")
    if hasattr(tracker.memory, "encodes"):
        print(f"crops mode: {tracker.memory.encodes} memory encodes for {args.frames - 1} tracked "
              f"frames ({tracker.memory.encodes / max(1, args.frames - 1):.2f} per frame; the "
              f"features mode encodes 1 per frame)")
    if tracker.device.type == "cuda":
        print(f"peak CUDA memory {torch.cuda.max_memory_allocated(tracker.device) / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
