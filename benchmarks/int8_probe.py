"""Would int8 pay? PyTorch's own static int8 quantization of the parts that dominate a frame.

    OMP_NUM_THREADS=1 python benchmarks/int8_probe.py --weights W.pkl --params lite

A probe, not a tracker mode: it answers issue 9's "int8 via PyTorch's own quantization where it
pays" before any tracker code is written. The query trunk and the two 7-conv head towers (with
the memory trunk, ~80 % of the lite model's network time: ``profile_stages.py``) are quantized
with FX graph mode (``torch.ao.quantization.quantize_fx``, the ``x86`` engine's default qconfig:
per-channel int8 weights, per-tensor uint8 activations), calibrated on real crops (around the
ground-truth box of the first ``--calib`` frames of each calibration sequence) and compared on
held-out crops (the frames after those) with the exact float32 path ``STMTracker`` runs:

* speed: median ms of each part, float32 exact vs int8, timed in alternation (round by round) so
  load hits both alike; then the frame the parts imply: the measured exact frame (memorize +
  track) with each part's time replaced by its int8 time (the memory trunk counted like the
  query trunk). An estimate of the best case: quantize/dequantize at the seams is not counted;
* fidelity: relative L2 error of each part's output against float32 on the held-out crops.

Nothing here changes the tracker. Goal of issue 9 for a reduced-precision mode: >= 2x the exact
path at mean IoU >= 0.98 against its boxes. (PyTorch 2.13 marks ``torch.ao.quantization`` as
deprecated in favour of the separate ``torchao`` package; its notices are silenced here.)
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _bench_common import load_average, machine_line  # noqa: E402
from bench_modes import DEFAULT_SEQUENCES, build_network  # noqa: E402
from profile_stages import real_inputs, stage_calls  # noqa: E402


def crops(sequences, first: int, count: int, crop_size: int, search_factor: float):
    """Real query crops (1, 3, S, S) of frames ``first .. first + count - 1`` of each sequence."""
    out = []
    for name in sequences:
        for index in range(first, first + count):
            out.append(real_inputs(name, crop_size, search_factor, frame=index)[0])
    return out


def quantize(module, calibration_inputs):
    """An int8 copy of ``module`` (FX graph mode, x86 default qconfig) calibrated on the inputs."""
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices (see above)
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(module).eval(), get_default_qconfig_mapping("x86"),
                              (calibration_inputs[0],))
        with torch.inference_mode():
            for x in calibration_inputs:
                prepared(x)
        return convert_fx(prepared)


def rel_error(reference, other, inputs) -> float:
    import torch

    errs = []
    with torch.inference_mode():
        for x in inputs:
            ref = reference(x)
            errs.append(((ref - other(x)).norm() / ref.norm()).item())
    return float(np.mean(errs))


def alternate(pairs, rounds: int):
    """{name: median seconds}, every callable once per round, in turn (two warm-up rounds)."""
    import torch

    times = {name: [] for name in pairs}
    with torch.inference_mode():
        for r in range(rounds + 2):
            for name, call in pairs.items():
                tic = time.perf_counter()
                call()
                if r >= 2:
                    times[name].append(time.perf_counter() - tic)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=None, help="checkpoint (default: seeded random weights "
                                                   "of --params' model)")
    p.add_argument("--params", default="default", help="parameter name or .py file")
    p.add_argument("--sequences", nargs="+", default=list(DEFAULT_SEQUENCES))
    p.add_argument("--calib", type=int, default=8, help="calibration frames per sequence")
    p.add_argument("--held-out", type=int, default=4, help="held-out frames per sequence")
    p.add_argument("--memory", type=int, default=6, help="memory frames T of the exact frame")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.model import build_model_from_checkpoint, build_model
    from stmtrack_plugin.model.head import memory_read
    from stmtrack_plugin.model.random_weights import randomize_model

    torch.set_num_threads(args.threads)
    params = load_parameters(args.params)
    exact = build_network("exact", params, args.weights)
    plain = (build_model_from_checkpoint(args.weights) if args.weights
             else randomize_model(build_model(params.model), seed=0)).eval()
    size, factor = params.crop_size, params.search_area_factor
    calib = crops(args.sequences, 0, args.calib, size, factor)
    held = crops(args.sequences, args.calib, args.held_out, size, factor)
    trunk_q = quantize(plain.basemodel_q, calib)
    with torch.inference_mode():
        frame, label = real_inputs(args.sequences[0], size, factor)
        memory = torch.cat([exact.memorize(frame, label)] * args.memory, dim=2)
        reads = [memory_read(memory, exact.neck_q(exact.basemodel_q(x))) for x in calib + held]
    towers = {name: quantize(getattr(plain.head, name), reads[:len(calib)])
              for name in ("cls_ctr", "reg")}
    load = load_average()
    x, y = held[0], reads[-1]
    parts = {"query trunk": (lambda: exact.basemodel_q(x), lambda: trunk_q(x))}
    for name, tower in towers.items():
        parts[f"{name} tower"] = ((lambda n=name: getattr(exact.head, n)(y)),
                                  (lambda t=tower: t(y)))
    calls = stage_calls(exact, frame, label, args.memory)
    timed = {"memorize": calls["memorize"], "track (whole)": calls["track (whole)"]}
    for name, (f32, i8) in parts.items():
        timed[f"{name} float32"], timed[f"{name} int8"] = f32, i8
    ms = {k: 1e3 * v for k, v in alternate(timed, args.rounds).items()}
    errors = {"query trunk": rel_error(exact.basemodel_q, trunk_q, held)}
    for name, tower in towers.items():
        errors[f"{name} tower"] = rel_error(getattr(exact.head, name), tower, reads[len(calib):])

    frame_ms = ms["memorize"] + ms["track (whole)"]
    # the memory trunk does the query trunk's work (plus the label projection): count it twice
    saved = sum((2 if n == "query trunk" else 1) * (ms[f"{n} float32"] - ms[f"{n} int8"])
                for n in parts)
    print(machine_line())
    print(f"load average (1 min): {load:.2f} at start, {load_average():.2f} at end")
    print(f"{args.weights or 'seeded random weights (seed 0)'}; params {params.name}; crop {size}; "
          f"calibration: first {args.calib} frames of {', '.join(args.sequences)}; held out: the "
          f"next {args.held_out}; {args.rounds} rounds (median)")
    print(f"{'part':16s} {'float32 ms':>10s} {'int8 ms':>8s} {'speed-up':>8s} {'rel. error':>10s}")
    for n in parts:
        f32, i8 = ms[f"{n} float32"], ms[f"{n} int8"]
        print(f"{n:16s} {f32:10.2f} {i8:8.2f} {f32 / i8:7.2f}x {errors[n]:10.3f}")
    print(f"exact frame (memorize + track, T = {args.memory}): {frame_ms:.2f} ms; with these "
          f"parts in int8 at best: {frame_ms - saved:.2f} ms ({frame_ms / (frame_ms - saved):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
