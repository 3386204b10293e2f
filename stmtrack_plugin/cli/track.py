"""Track one target through a video file, a frame folder or an OTB-style sequence folder.

  stmtrack track ../shared/data/sequences/Crossing --weights epoch-19.pkl --out crossing.txt
  stmtrack track clip.mp4 --box 100,80,40,60 --params otb --video annotated.mp4

The init box comes from --box, else line 1 of --gt, else line 1 of the sequence folder's
ground truth. Results: one ``x,y,w,h`` line per frame (0-based, line 1 = the init box), written
atomically. With ground truth, the success AUC and the precision at 20 px are printed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples' lines
    parser.add_argument("source", help="video file, frame folder, or sequence folder (img/ + "
                                       "groundtruth_rect.txt)")
    init = parser.add_mutually_exclusive_group()
    init.add_argument("--box", help="init box x,y,w,h (0-based pixels)")
    init.add_argument("--gt", help="ground-truth file: line 1 initializes, all lines are scored")
    parser.add_argument("--weights", default=None,
                        help="checkpoint file (default: $STMTRACK_WEIGHTS)")
    parser.add_argument("--params", default="default",
                        help="parameter file name (default, got10k, otb, ...) or a .py path")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a tracker parameter, e.g. --set window_influence=0.3 "
                             "(repeatable; VALUE is JSON or a plain string)")
    parser.add_argument("--out", default="-", help="results file (default: standard output)")
    annotate = parser.add_mutually_exclusive_group()
    annotate.add_argument("--video", help="write an annotated video (mp4)")
    annotate.add_argument("--frames-out", help="write annotated frames (JPEG) to this folder")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... or auto")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def parse_overrides(items) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def parse_box(text: str) -> list:
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    try:
        box = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"--box expects x,y,w,h numbers, got {text!r}") from None
    if len(box) != 4:
        raise ValueError(f"--box expects 4 numbers x,y,w,h, got {len(box)}")
    return box


def resolve_device(name: str) -> str:
    """``auto`` -> cuda when available, else cpu; a device that cannot be used is a ValueError."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:1, ... or "
                         "auto)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available (torch.cuda.is_available() "
                             "is False); use --device cpu or --device auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s)")
    return name


def run(args) -> int:
    from stmtrack_plugin.model import CheckpointError

    try:
        return _run(args)
    except (FileNotFoundError, ValueError, KeyError, TypeError, CheckpointError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"stmtrack track: error: {msg}", file=sys.stderr)
        return 2


def _initial_box_and_gt(args, source):
    from stmtrack_plugin.utils.sequences import read_boxes

    gt = source.groundtruth
    if args.gt:
        gt = read_boxes(args.gt)
        if len(gt) == 0:
            raise ValueError(f"ground-truth file {args.gt} has no boxes")
    if args.box:
        return parse_box(args.box), gt
    if gt is None:
        raise ValueError("no init box: give --box x,y,w,h or --gt FILE (or a sequence folder "
                         "with groundtruth_rect.txt)")
    return gt[0].tolist(), gt


def _run(args) -> int:
    from tqdm import tqdm

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.utils.io import atomic_write_text
    from stmtrack_plugin.utils.video import Annotator, open_source

    source = open_source(args.source)
    box, gt = _initial_box_and_gt(args, source)
    params = load_parameters(args.params, **parse_overrides(args.set))
    tracker = STMTracker.from_params(params, weights=args.weights, device=resolve_device(args.device))
    total = source.count if args.max_frames is None else min(args.max_frames, source.count or args.max_frames)
    annotator = Annotator(args.video, args.frames_out) if (args.video or args.frames_out) else None
    boxes, times = [], []
    interrupted = False
    bar = tqdm(total=total, unit="frame", desc=source.name, disable=args.no_progress,
               file=sys.stderr)
    try:
        for i, frame in enumerate(source.frames()):
            if args.max_frames is not None and i >= args.max_frames:
                break
            start = time.perf_counter()
            if i == 0:
                tracker.initialize(frame, box)
                out, score = [float(v) for v in box], None
            else:
                result = tracker.track(frame)
                out, score = list(result.box), result.score
                times.append(time.perf_counter() - start)
                bar.set_postfix(fps=f"{1.0 / np.median(times):.1f}")
            boxes.append(out)
            if annotator is not None:
                gt_box = gt[i] if gt is not None and i < len(gt) else None
                text = f"#{i + 1}" + ("" if score is None else f" score {score:.3f}")
                annotator.add(frame, out, gt_box, text)
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True  # keep what was tracked: written below, then exit 130
    finally:
        bar.close()
        if annotator is not None:
            annotator.close()
    if not boxes:
        raise ValueError(f"no frames could be read from {args.source}")
    _write_results(args.out, boxes, atomic_write_text)
    if interrupted:
        print(f"interrupted: wrote the {len(boxes)} frames tracked so far", file=sys.stderr)
        return 130
    _report(args, source.name, boxes, gt, times)
    return 0


def _write_results(out: str, boxes, atomic_write_text) -> None:
    text = "".join(",".join(f"{v:.4f}" for v in b) + "\n" for b in boxes)
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(out, text)


def _report(args, name, boxes, gt, times) -> None:
    from stmtrack_plugin.evaluation.metrics import ope

    stream = sys.stderr if args.out == "-" else sys.stdout
    fps = 1.0 / float(np.median(times)) if times else float("nan")
    line = f"{name}: {len(boxes)} frames, {fps:.2f} FPS (median frame time)"
    if gt is not None:
        n = min(len(boxes), len(gt))
        if len(gt) < len(boxes):
            print(f"warning: ground truth has {len(gt)} boxes for {len(boxes)} frames; scoring "
                  f"the first {n}", file=sys.stderr)
        res = ope(np.asarray(boxes[:n]), gt[:n])
        line += f"; success AUC {res.success_auc:.4f}, precision@20 {res.precision20:.4f}"
    if args.out != "-":
        line += f"; results in {args.out}"
    print(line, file=stream)
