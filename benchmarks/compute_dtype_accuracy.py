"""Accuracy of a reduced compute dtype against the exact float32 path, over whole sequences.

  python benchmarks/compute_dtype_accuracy.py --weights epoch-19.pkl            # all of it
  python benchmarks/compute_dtype_accuracy.py --weights W.pkl --sequences Crossing --params otb
  python benchmarks/compute_dtype_accuracy.py --frames 20                       # quick look

For every shared sequence (``../shared/data/sequences``, all 9 by default) and every tracker
parameter file (``stmtrack_plugin.config.available_parameters()``), the sequence is tracked twice
in one process, frames interleaved: with the exact path (``compute_dtype="float32"``, the
default) and with ``--dtype`` (default bfloat16). Printed per run: frames, mean IoU of the
reduced-precision boxes against the float32 boxes (frames 1..N-1), the worst frame's IoU, the
largest box difference in px, the success AUC of each against the ground truth (frames 0..N-1,
as ``stmtrack track`` scores them), and the median ms/frame of both (speed-up). Two paths
that part can still be equally accurate: the AUC columns say whether the reduced dtype tracks
as well, the IoU columns whether it tracks the same way. The last lines give the
mean IoU over all runs and the smallest per-run mean IoU (the goal: >= 0.98 everywhere).

``--dtype plain`` is the control: the *unprepared* float32 network (BN not folded, no oneDNN
packing) against the exact path. Both are float32 and differ only in summation order (~1e-6
relative on features), so this shows how much of a reduced dtype's drift a tracker would show
from float rounding alone. (Its speed column is the unprepared network's.)

Runs resume: each finished run is written (atomically) to ``--out`` (JSON) under a key made of
the weights file's sha256 (or "seed0"), the parameter file, the sequence, the dtype and the
frame limit, so a rerun skips what is done and never reuses a result of other weights or
parameters. Without --weights the seeded random weights (seed 0) are used: they do not track, so
use the released weights for a meaningful figure. The full run (9 sequences x 7 parameter files,
about 3,600 frames each way) takes hours on a CPU; use --device cuda where there is one.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SHARED = os.environ.get("STMTRACK_SHARED", os.path.join(HERE, "..", "..", "shared"))

from bench_modes import box_iou, track_interleaved  # noqa: E402


def weights_id(path) -> str:
    if not path:
        return "seed0"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomic(path: str, data) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def build_network(params, weights, device, dtype):
    """A fresh network: prepared with ``dtype``, or unprepared float32 for ``"plain"``."""
    from stmtrack_plugin.model import build_model, build_model_from_checkpoint
    from stmtrack_plugin.model.inference import COMPUTE_DTYPES, prepare_for_inference
    from stmtrack_plugin.model.random_weights import randomize_model

    if weights:
        model = build_model_from_checkpoint(weights, device=device)
    else:
        model = randomize_model(build_model(params.model), seed=0).eval().to(device)
    if dtype == "plain":
        return model
    return prepare_for_inference(model, COMPUTE_DTYPES[dtype])


def run_one(seq, params, weights, device, dtype, frames):
    """Track ``seq`` with float32 and ``dtype`` side by side; return the run's figures."""
    from stmtrack_plugin.evaluation.metrics import ope
    from stmtrack_plugin.tracking import STMTracker

    trackers = {}
    for name in ("float32", dtype):
        p = dataclasses.replace(params, compute_dtype="float32" if name == "plain" else name)
        trackers[name] = STMTracker(build_network(p, weights, device, name), p, device=device)
    n = len(seq.frames) if frames is None else min(frames, len(seq.frames))
    times, boxes = track_interleaved(trackers, seq, n)
    ref, low = boxes["float32"][1:], boxes[dtype][1:]  # row 0: the initial box
    iou = box_iou(low, ref)
    gt = np.asarray(seq.groundtruth[:n], dtype=np.float64)
    return {"frames": n, "mean_iou": float(iou.mean()), "min_iou": float(iou.min()),
            "max_box_diff_px": float(np.abs(low - ref).max()),
            "auc_float32": ope(boxes["float32"], gt).success_auc,
            f"auc_{dtype}": ope(boxes[dtype], gt).success_auc,
            "ms_float32": float(np.median(times["float32"]) * 1e3),
            f"ms_{dtype}": float(np.median(times[dtype]) * 1e3)}


def main(argv=None) -> int:
    from stmtrack_plugin.config import available_parameters, load_parameters

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=os.path.join(SHARED, "data", "sequences"))
    p.add_argument("--sequences", nargs="*", default=None, help="default: every sequence in --root")
    p.add_argument("--params", nargs="*", default=None, help="default: every parameter file")
    p.add_argument("--weights", default=None)
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "plain"],
                   help="bfloat16, or plain: the unprepared float32 network (a control)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--frames", type=int, default=None, help="first N frames only (default: all)")
    p.add_argument("--out", default="compute_dtype_accuracy.json")
    args = p.parse_args(argv)
    import torch

    from stmtrack_plugin.utils.sequences import find_otb_sequences, load_otb_sequence

    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.sequences or find_otb_sequences(args.root)
    param_names = args.params or available_parameters()
    wid = weights_id(args.weights)
    done = json.load(open(args.out)) if os.path.isfile(args.out) else {}
    print(f"weights {args.weights or 'seeded random (seed 0)'}; {args.dtype} vs float32; "
          f"device {args.device}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"{'sequence':18s} {'params':12s} {'frames':>6s} {'mean IoU':>9s} {'min IoU':>8s} "
          f"{'max |d| px':>10s} {'AUC fp32':>8s} {'AUC ' + args.dtype[:4]:>9s} {'ms fp32':>8s} "
          f"{'ms ' + args.dtype[:4]:>8s}")
    rows = []
    for name in names:
        seq = load_otb_sequence(os.path.join(args.root, name))
        for pname in param_names:
            key = f"{wid}|{pname}|{name}|{args.dtype}|{args.frames}"
            if "auc_float32" not in done.get(key, {}):  # new, or stored before AUCs were
                done[key] = run_one(seq, load_parameters(pname), args.weights, args.device,
                                    args.dtype, args.frames)
                write_json_atomic(args.out, done)
            r = done[key]
            rows.append(r)
            print(f"{name:18s} {pname:12s} {r['frames']:6d} {r['mean_iou']:9.4f} "
                  f"{r['min_iou']:8.4f} {r['max_box_diff_px']:10.2f} {r['auc_float32']:8.4f} "
                  f"{r['auc_' + args.dtype]:9.4f} {r['ms_float32']:8.1f} "
                  f"{r['ms_' + args.dtype]:8.1f}")
    means = np.array([r["mean_iou"] for r in rows])
    print(f"mean success AUC over {len(rows)} runs: float32 "
          f"{np.mean([r['auc_float32'] for r in rows]):.4f}, {args.dtype} "
          f"{np.mean([r['auc_' + args.dtype] for r in rows]):.4f}")
    print(f"mean IoU over {len(rows)} runs: {means.mean():.4f}; smallest per-run mean IoU "
          f"{means.min():.4f} (goal >= 0.98); median speed-up "
          f"{np.median([r['ms_float32'] / r['ms_' + args.dtype] for r in rows]):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
