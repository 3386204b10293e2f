"""Compute modes side by side: unprepared float32, the prepared exact path, bfloat16.

  OMP_NUM_THREADS=1 python benchmarks/bench_modes.py ../shared/data/sequences/Crossing --frames 16
  python benchmarks/bench_modes.py SEQ --weights epoch-19.pkl --modes exact bfloat16

All trackers run in one process on the same frames; each frame is given to every tracker in turn
(interleaved), so load on a shared machine hits all modes alike. Modes:

* ``plain``: the network as built, float32 (what ``STMTracker(model, params)`` runs on a model
  that was not prepared; the speed before ``prepare_for_inference`` existed);
* ``exact``: ``prepare_for_inference`` in float32 (BN folded, channels-last): the default of
  ``STMTracker.from_params``, within the parity tolerances of the authors' tracker;
* ``bfloat16``: prepared with ``compute_dtype="bfloat16"`` (opt-in).

Printed per mode: median ms per frame over frames 1..N-1 (frame 0 = initialize), FPS (1 / median),
speed-up over ``plain`` and, against ``exact``: the largest box difference (px) and the mean IoU.
Without --weights every mode gets the same seeded random weights (seed 0; the released model's
compute, no tracking ability).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("STMTRACK_SHARED", os.path.join(HERE, "..", "..", "shared"))
MODES = ("plain", "exact", "bfloat16")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N, 4) xywh boxes, row by row (the same convention on both sides)."""
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return inter / np.maximum(union, 1e-12)


def build_network(mode: str, params, weights):
    """A fresh network for ``mode`` (each tracker has its own: preparation changes the module)."""
    from stmtrack_plugin.model import build_model, build_model_from_checkpoint
    from stmtrack_plugin.model.inference import COMPUTE_DTYPES, prepare_for_inference
    from stmtrack_plugin.model.random_weights import randomize_model

    if weights:
        model = build_model_from_checkpoint(weights)
    else:
        model = randomize_model(build_model(params.model), seed=0).eval()
    if mode == "plain":
        return model
    return prepare_for_inference(model, COMPUTE_DTYPES["float32" if mode == "exact" else mode])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sequence", nargs="?", default=os.path.join(SHARED, "data", "sequences", "Crossing"))
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--weights", default=None)
    p.add_argument("--params", default="default")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    args = p.parse_args(argv)
    import dataclasses

    import torch

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    torch.set_num_threads(args.threads)
    params = load_parameters(args.params)
    seq = load_otb_sequence(args.sequence)
    trackers = {}
    for mode in args.modes:
        mode_params = dataclasses.replace(
            params, compute_dtype="bfloat16" if mode == "bfloat16" else "float32")
        trackers[mode] = STMTracker(build_network(mode, params, args.weights), mode_params)
    first = read_image_bgr(seq.frames[0])
    times = {m: [] for m in trackers}
    boxes = {m: [list(seq.groundtruth[0])] for m in trackers}
    for t in trackers.values():
        t.initialize(first, seq.groundtruth[0])
    for i in range(1, args.frames):
        frame = read_image_bgr(seq.frames[i % len(seq)])
        for mode, tracker in trackers.items():
            start = time.perf_counter()
            boxes[mode].append(list(tracker.track(frame).box))
            times[mode].append(time.perf_counter() - start)
    print(f"{seq.name}: {args.frames} frames; params {params.name}; "
          f"{'weights ' + args.weights if args.weights else 'seeded random weights (seed 0)'}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"load average {os.getloadavg()[0]:.2f}")
    base = np.median(times["plain"]) if "plain" in times else None
    ref = np.array(boxes["exact"]) if "exact" in boxes else None
    print(f"{'mode':10s} {'ms/frame':>9s} {'FPS':>6s} {'vs plain':>9s} {'max |dbox| px':>14s} "
          f"{'mean IoU':>9s}  (box columns against exact)")
    for mode in trackers:
        med = np.median(times[mode])
        speed = f"{base / med:.2f}x" if base else "-"
        if ref is not None:
            b = np.array(boxes[mode])
            diff, iou = f"{np.abs(b - ref).max():.2e}", f"{box_iou(b[1:], ref[1:]).mean():.4f}"
        else:
            diff = iou = "-"
        print(f"{mode:10s} {med * 1e3:9.1f} {1 / med:6.2f} {speed:>9s} {diff:>14s} {iou:>9s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
