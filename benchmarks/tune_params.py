"""Grid search of tracker parameters on a set of validation sequences (success AUC).

    OMP_NUM_THREADS=1 python benchmarks/tune_params.py --weights W.pkl --params lite \
        --grid window_influence=0.15,0.21,0.3 --grid penalty_k=0.02,0.04,0.08 \
        --out runs/tune_lite.csv --workers 2

Every combination of the ``--grid`` values (``KEY=V1,V2,...``, any ``TrackerParams`` field; the
values are JSON or plain strings, as ``stmtrack track --set``) is run over every sequence of
``--sequences`` (OTB-layout folders, default ``../shared/data/sequences``: the project's
validation set; never tune on a benchmark you report; or video-file sequences, ``video.mp4`` +
``groundtruth_rect.txt`` as in ``../shared/data/train``: with ``--only NAME,...`` and no grid it
scores a model on a few of its training clips, for the train/validation gap). Each (combination, sequence) row of the
CSV holds the success AUC, precision@20, frames and mean tracking FPS; rows are appended as
they finish, so a rerun skips what is there. The CSV header records the weights' sha256, the
base parameter name and the sequence folder: a file made with other weights, parameters or
sequences is refused, not mixed. At
the end the combinations are printed by mean AUC (each sequence weighs the same).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEQUENCES = os.path.join(HERE, os.pardir, os.pardir, "shared", "data", "sequences")
FIELDS = ("combo", "sequence", "auc", "precision20", "frames", "fps")


def parse_grid(items):
    """``["k=v1,v2", ...]`` -> list of ``{k: v}`` dicts, one per combination (grid order)."""
    from stmtrack_plugin.cli.track import parse_overrides

    axes = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise SystemExit(f"error: --grid expects KEY=V1,V2,...; got {item!r}")
        axes.append([next(iter(parse_overrides([f"{key.strip()}={v.strip()}"]).items()))
                     for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def combo_name(combo: dict) -> str:
    return json.dumps(combo, sort_keys=True) if combo else "{}"


def run_one(job):
    """Track one sequence with one combination: returns a CSV row (dict)."""
    weights, base, combo, folder, max_frames = job
    import torch

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.evaluation.metrics import ope, tracking_fps
    from stmtrack_plugin.tracking.tracker import STMTracker
    from stmtrack_plugin.utils.video import open_source

    torch.set_num_threads(1)
    seq = open_source(folder)  # OTB layout or a video-file sequence (video.mp4 + boxes)
    if seq.groundtruth is None or not len(seq.groundtruth):
        raise SystemExit(f"error: {folder} has no ground truth to score against")
    tracker = STMTracker.from_params(load_parameters(base, **combo), weights)
    boxes, times = [], []
    for index, image in enumerate(seq.frames()):
        if index == (max_frames or len(seq.groundtruth)):
            break
        if index == 0:
            tracker.initialize(image, seq.groundtruth[0])
            boxes.append(np.asarray(seq.groundtruth[0], dtype=np.float64))
            continue
        tic = time.perf_counter()
        boxes.append(np.asarray(tracker.track(image).box, dtype=np.float64))
        times.append(time.perf_counter() - tic)
    res = ope(np.stack(boxes), seq.groundtruth[:len(boxes)])
    return {"combo": combo_name(combo), "sequence": seq.name, "auc": f"{res.success_auc:.4f}",
            "precision20": f"{res.precision20:.4f}", "frames": len(boxes),
            "fps": f"{tracking_fps(times) or 0:.2f}"}


def read_rows(path: str, header: str):
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        first = f.readline().rstrip("\n")
        if first != header:
            raise SystemExit(f"error: {path} was made with other weights, parameters or sequences:\n"
                             f"  {first}\nexpected\n  {header}\n(use another --out)")
        return list(csv.DictReader(f))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", required=True, help="checkpoint to tune for")
    p.add_argument("--params", default="default", help="base parameter file")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="values of one TrackerParams field (repeatable)")
    p.add_argument("--sequences", default=DEFAULT_SEQUENCES,
                   help="folder of sequences: OTB layout, or video.mp4 + groundtruth_rect.txt")
    p.add_argument("--only", default=None, metavar="NAME,...",
                   help="these sequences of --sequences only (e.g. a few training clips)")
    p.add_argument("--max-frames", type=int, default=None, help="first N frames of each")
    p.add_argument("--workers", type=int, default=1,
                   help="processes (one torch thread each); 1 = this process")
    p.add_argument("--out", required=True, help="CSV file (appended; reruns resume)")
    args = p.parse_args(argv)
    from stmtrack_plugin.adapters.provenance import file_sha256
    from stmtrack_plugin.config import load_parameters

    combos = parse_grid(args.grid)
    for combo in combos:
        load_parameters(args.params, **combo)  # a bad key or value fails here, before tracking
    names = sorted(d for d in os.listdir(args.sequences)
                   if os.path.isdir(os.path.join(args.sequences, d)))
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        missing = sorted(set(wanted) - set(names))
        if missing:
            raise SystemExit(f"error: --only names sequences not in {args.sequences}: "
                             f"{', '.join(missing)}")
        names = sorted(wanted)
    header = (f"# weights sha256 {file_sha256(args.weights)}; params {args.params}; "
              f"max_frames {args.max_frames}; sequences {os.path.realpath(args.sequences)}")
    rows = read_rows(args.out, header)
    done = {(r["combo"], r["sequence"]) for r in rows}
    jobs = [(args.weights, args.params, combo, os.path.join(args.sequences, name), args.max_frames)
            for combo in combos for name in names if (combo_name(combo), name) not in done]
    print(f"{len(combos)} combinations x {len(names)} sequences; {len(done)} rows done, "
          f"{len(jobs)} to run", flush=True)
    if not os.path.isfile(args.out):
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(header + "\n" + ",".join(FIELDS) + "\n")
    pool = ProcessPoolExecutor(args.workers) if args.workers > 1 else None
    with pool or contextlib.nullcontext():
        for row in (pool.map(run_one, jobs) if pool else map(run_one, jobs)):
            with open(args.out, "a", newline="") as f:  # one whole line per append
                csv.DictWriter(f, FIELDS).writerow(row)
                f.flush()
                os.fsync(f.fileno())
            rows.append(row)
            print(f"{row['combo']} {row['sequence']}: AUC {row['auc']} ({row['fps']} FPS)",
                  flush=True)
    table = {}
    for row in rows:
        if row["sequence"] in names:  # a CSV may hold more (an earlier run without --only)
            table.setdefault(row["combo"], {})[row["sequence"]] = float(row["auc"])
    print(f"\nmean success AUC over {len(names)} sequences (complete combinations only):")
    ranked = sorted(((np.mean(list(v.values())), k) for k, v in table.items()
                     if len(v) == len(names)), reverse=True)
    for auc, name in ranked:
        print(f"  {auc:.4f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
