"""Where the tracker's start-up time goes: checkpoint read, model construction, weight load,
first frames.

  OMP_NUM_THREADS=1 python benchmarks/startup_time.py --threads 1
  python benchmarks/startup_time.py --weights epoch-19.pkl --frames 3

Without --weights a checkpoint with seeded random weights (seed 0, the full-size model) is
written to a temporary folder first (not timed). In one process, ``--repeats`` times: the
stages of a plain build (``model_config_of`` reads the file, ``build_model`` constructs the
modules with their random initialisation, the strict ``load_checkpoint`` reads the file again
and copies every tensor), then ``build_model_from_checkpoint`` (what ``STMTracker.from_params``
runs: one read, modules built on the meta device without random init, tensors assigned).
Then ``initialize`` and the first ``--frames`` ``track`` calls on the last model.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("STMTRACK_SHARED", os.path.join(HERE, "..", "..", "shared"))


def _timed(label, fn, rows):
    start = time.perf_counter()
    out = fn()
    rows.append((label, time.perf_counter() - start))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("sequence", nargs="?",
                   default=os.path.join(SHARED, "data", "sequences", "Crossing"))
    p.add_argument("--weights", default=None)
    p.add_argument("--frames", type=int, default=2, help="track calls after initialize")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    import torch

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.model import (build_model, build_model_from_checkpoint,
                                       load_checkpoint, model_config_of)
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            from stmtrack_plugin.model.random_weights import randomize_model

            weights = os.path.join(tmp, "seed0.pkl")
            state = randomize_model(build_model(), seed=0).state_dict()
            torch.save({"epoch": -1, "model_state_dict": state}, weights)
        rows = []
        for r in range(1, args.repeats + 1):
            config = _timed(f"[{r}] plain: model_config_of (reads the file)",
                            lambda: model_config_of(weights), rows)
            model = _timed(f"[{r}] plain: build_model (construction + random init)",
                           lambda: build_model(config), rows)
            _timed(f"[{r}] plain: load_checkpoint (read + strict check + copy)",
                   lambda: load_checkpoint(model, weights), rows)
            model = _timed(f"[{r}] build_model_from_checkpoint", lambda:
                           build_model_from_checkpoint(weights), rows)
        tracker = STMTracker(model, load_parameters("default"), device="cpu")
        seq = load_otb_sequence(args.sequence)
        _timed("initialize (frame 0)", lambda: tracker.initialize(
            read_image_bgr(seq.frames[0]), seq.groundtruth[0]), rows)
        for i in range(1, args.frames + 1):
            image = read_image_bgr(seq.frames[i % len(seq)])
            _timed(f"track (frame {i})", lambda: tracker.track(image), rows)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}, weights "
          f"{'seeded random (seed 0)' if args.weights is None else args.weights}")
    for label, seconds in rows:
        print(f"{label:56s} {seconds * 1e3:9.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
