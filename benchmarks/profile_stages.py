"""Where a tracked frame's network time goes: median ms per stage, for any weights and mode.

    OMP_NUM_THREADS=1 python benchmarks/profile_stages.py --weights W.pkl --params lite
    OMP_NUM_THREADS=1 python benchmarks/profile_stages.py --params default   # full size, seeded
    python benchmarks/profile_stages.py --weights W.pkl --params lite --mode bfloat16 --memory 6

The network is built as ``bench_modes.py`` builds it for ``--mode`` (``exact`` = what
``STMTracker.from_params`` tracks with; ``plain`` = unprepared; ``bfloat16`` under autocast, as
the tracker runs it). Inputs are real: a crop of side ``crop_size`` around the ground-truth box
of frame 1 of a shared sequence, its fg/bg label map, and ``--memory`` memory frames (T,
default 6: after the first frames the authors' rule reads the first frame, one per segment and,
when the last frame was confident, that one: 6 with ``num_segments = 4``).

Stages, in the order a frame runs them:

* ``memorize``: memory trunk + neck for one memory frame (the tracker memorizes one per frame)
* ``query trunk``, ``query neck``: the query crop's features
* ``memory read``: affinity + softmax + read-out over T frames (float32 in every mode)
* ``head towers``: the two 7-conv towers and the three 1x1 output convs
* ``box decode``: exp + grid offsets (float32)
* ``track (whole)``: ``model.track`` = query trunk + neck + head + scores, as one call

Each round times every stage once, one after the other, so load on a shared machine hits all of
them alike; the table gives the median over ``--rounds`` rounds after two warm-up rounds, and
each stage's share of ``memorize + track (whole)``, the network time of one tracked frame. Crop
cutting and post-processing are outside (a few ms; see ``bench_tracker.py --standin``).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _bench_common import load_average, machine_line  # noqa: E402
from bench_modes import MODES, build_network, sequence_folder  # noqa: E402

STAGES = ("memorize", "query trunk", "query neck", "memory read", "head towers", "box decode",
          "track (whole)")


def real_inputs(sequence: str, crop_size: int, search_factor: float, frame: int = 0):
    """(1, 3, S, S) float BGR crop around the ground-truth box of ``frame`` (0-based) of
    ``sequence`` and its (1, 1, S, S) label map (1 inside the box, as scaled into the crop)."""
    import cv2
    import torch

    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    seq = load_otb_sequence(sequence_folder(sequence))
    image = read_image_bgr(seq.frames[frame])
    x, y, w, h = (float(v) for v in seq.groundtruth[frame])
    side = search_factor * float(np.sqrt(w * h))
    scale = crop_size / side
    cx, cy = x + w / 2, y + h / 2
    warp = np.array([[scale, 0, crop_size / 2 - scale * cx], [0, scale, crop_size / 2 - scale * cy]])
    crop = cv2.warpAffine(image, warp, (crop_size, crop_size), borderMode=cv2.BORDER_REPLICATE)
    label = np.zeros((crop_size, crop_size), np.float32)
    half_w, half_h = w * scale / 2, h * scale / 2
    lo, hi = crop_size / 2 - half_w, crop_size / 2 + half_w
    top, bottom = crop_size / 2 - half_h, crop_size / 2 + half_h
    label[int(max(top, 0)):int(min(bottom, crop_size)), int(max(lo, 0)):int(min(hi, crop_size))] = 1
    return (torch.from_numpy(crop).permute(2, 0, 1)[None].float().contiguous(),
            torch.from_numpy(label)[None, None])


def stage_calls(model, frame, label, memory_frames: int):
    """{stage: zero-argument callable} on fixed inputs (outputs of earlier stages precomputed)."""
    import torch

    from stmtrack_plugin.model.head import memory_read

    with torch.inference_mode():
        memory = torch.cat([model.memorize(frame, label)] * memory_frames, dim=2)
        trunk_out = model.basemodel_q(frame)
        query = model.neck_q(trunk_out)
        read = memory_read(memory, query)
        _, _, reg = model.head.solve(read)
    offset = model.score_geometry(frame.shape[-1])[1]
    return {
        "memorize": lambda: model.memorize(frame, label),
        "query trunk": lambda: model.basemodel_q(frame),
        "query neck": lambda: model.neck_q(trunk_out),
        "memory read": lambda: memory_read(memory, query),
        "head towers": lambda: model.head.solve(read),
        "box decode": lambda: model.head.decode(reg, offset),
        "track (whole)": lambda: model.track(frame, memory),
    }


def time_rounds(calls, rounds: int, autocast) -> dict:
    """{stage: [seconds per round]}, stages timed one after another in each round."""
    import torch

    times = {name: [] for name in calls}
    with torch.inference_mode(), autocast():
        for r in range(rounds + 2):
            for name, call in calls.items():
                tic = time.perf_counter()
                call()
                if r >= 2:  # two warm-up rounds (weight packing, allocator)
                    times[name].append(time.perf_counter() - tic)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=None, help="checkpoint (default: seeded random weights "
                                                   "of --params' model)")
    p.add_argument("--params", default="default", help="parameter name or .py file")
    p.add_argument("--mode", default="exact", choices=[m for m in MODES if m != "crops"])
    p.add_argument("--memory", type=int, default=6, help="memory frames T read per frame")
    p.add_argument("--sequence", default="Crossing", help="shared sequence name or folder")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    args = p.parse_args(argv)
    if args.memory < 1 or args.rounds < 1:
        p.error("--memory and --rounds must be >= 1")
    import torch

    from stmtrack_plugin.config import load_parameters

    torch.set_num_threads(args.threads)
    params = load_parameters(args.params)
    model = build_network(args.mode, params, args.weights)
    frame, label = real_inputs(args.sequence, params.crop_size, params.search_area_factor)
    dtype = {"bfloat16": torch.bfloat16}.get(args.mode)
    autocast = ((lambda: torch.autocast("cpu", dtype=dtype)) if dtype is not None
                else contextlib.nullcontext)
    load = load_average()
    times = time_rounds(stage_calls(model, frame, label, args.memory), args.rounds, autocast)
    medians = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
    frame_ms = medians["memorize"] + medians["track (whole)"]
    print(machine_line())
    print(f"load average (1 min): {load:.2f} at start, {load_average():.2f} at end")
    weights = args.weights or "seeded random weights (seed 0)"
    print(f"{weights}; params {params.name}; mode {args.mode}; crop {params.crop_size}; "
          f"T = {args.memory} memory frames; {args.rounds} rounds (median)")
    print(f"{'stage':16s} {'ms':>8s} {'share of a frame':>17s}")
    for name in STAGES:
        print(f"{name:16s} {medians[name]:8.2f} {100 * medians[name] / frame_ms:16.1f}%")
    print(f"{'frame (network)':16s} {frame_ms:8.2f}   = memorize + track (whole)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
