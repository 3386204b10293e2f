"""Track one target through a video file, a frame folder or an OTB-style sequence folder.

  stmtrack track ../shared/data/sequences/Crossing --weights epoch-19.pkl --out crossing.txt
  stmtrack track clip.mp4 --box 100,80,40,60 --params otb --video annotated.mp4

The init box comes from --box, else line 1 of --gt, else line 1 of the sequence folder's
ground truth. Results: one ``x,y,w,h`` line per frame (0-based, line 1 = the init box), written
atomically. With ground truth, the success AUC and the precision at 20 px are printed.

Output folders are checked writable before tracking starts. The frames tracked so far are
written when the run stops early: Ctrl-C (exit 130), SIGTERM (exit 143), or a frame that cannot
be read or whose size differs from the first frame's (exit 1, naming the frame).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import signal
import sys
import threading
import time

import numpy as np

from stmtrack_plugin.cli.errors import report_error


def add_arguments(parser):
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the examples' lines
    parser.add_argument("source", help="video file, frame folder, or sequence folder (img/ + "
                                       "groundtruth_rect.txt)")
    init = parser.add_mutually_exclusive_group()
    init.add_argument("--box", help="init box x,y,w,h (0-based pixels)")
    init.add_argument("--gt", help="ground-truth file: line 1 initializes, all lines are scored")
    parser.add_argument("--weights", default=None,
                        help="checkpoint file (default: $STMTRACK_WEIGHTS, else the built-in "
                             "STMTrack-Lite model)")
    parser.add_argument("--params", default=None,
                        help="parameter file name (default, got10k, otb, lite, ...) or a .py path "
                             "(default: the one the weights call for: lite for a Lite0 "
                             "checkpoint, else default)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a tracker parameter, e.g. --set window_influence=0.3 "
                             "(repeatable; VALUE is JSON or a plain string)")
    parser.add_argument("--out", default="-", help="results file (default: standard output)")
    annotate = parser.add_mutually_exclusive_group()
    annotate.add_argument("--video", help="write an annotated video (mp4)")
    annotate.add_argument("--frames-out", help="write annotated frames (JPEG) to this folder")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... or auto")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after N frames")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch/OpenCV threads (default: the free cores)")
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


def run(args) -> int:
    from stmtrack_plugin.model import CheckpointError

    try:
        return _run(args)
    except (OSError, ValueError, KeyError, TypeError, CheckpointError) as exc:
        return report_error("track", exc)


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


class _Terminated(Exception):
    """SIGTERM arrived (raised by the handler :func:`_terminate_like_ctrl_c` installs)."""


@contextlib.contextmanager
def _terminate_like_ctrl_c():
    """Turn SIGTERM into :class:`_Terminated` while tracking (main thread only), so the frames
    tracked so far are written as on Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_outputs(args) -> None:
    """Fail before tracking when an output location cannot be written."""
    import os

    from stmtrack_plugin.utils.io import ensure_writable

    if args.out != "-":
        ensure_writable(os.path.dirname(os.path.abspath(args.out)), "results")
    if args.video:
        ensure_writable(os.path.dirname(os.path.abspath(args.video)), "annotated video")
    if args.frames_out:
        ensure_writable(args.frames_out, "annotated frames")


def _run(args) -> int:
    from stmtrack_plugin.adapters.runner import _set_threads
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.threads import resolve_threads
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.utils.devices import resolve_device
    from stmtrack_plugin.utils.io import atomic_write_text
    from stmtrack_plugin.utils.video import open_source
    from stmtrack_plugin.weights import choose_params

    source = open_source(args.source)
    box, gt = _initial_box_and_gt(args, source)
    _check_outputs(args)
    params = load_parameters(choose_params(args.params, args.weights),
                             **parse_overrides(args.set))
    _set_threads(resolve_threads(args.threads))
    tracker = STMTracker.from_params(params, weights=args.weights, device=resolve_device(args.device))
    boxes, times = [], []
    with _terminate_like_ctrl_c():
        stop, failure = _track_frames(args, source, tracker, box, gt, boxes, times)
    if not boxes:
        raise ValueError(failure or f"no frames could be read from {args.source}")
    _write_results(args.out, boxes, atomic_write_text)
    where = "" if args.out == "-" else f" to {args.out}"
    if failure is not None:
        print(f"stmtrack track: error: {failure}; wrote the {len(boxes)} frames tracked before "
              f"it{where}", file=sys.stderr)
        return 1
    if stop is not None:
        print(f"{stop}: wrote the {len(boxes)} frames tracked so far{where}", file=sys.stderr)
        return 130 if stop == "interrupted" else 143
    _report(args, source.name, boxes, gt, times)
    return 0


def _track_frames(args, source, tracker, box, gt, boxes, times):
    """Track into ``boxes``/``times`` (appended in place); returns ``(stop, failure)``: stop is
    "interrupted" (Ctrl-C) or "terminated" (SIGTERM), failure a message naming a frame that
    could not be read or changed size. Both None when every frame was tracked."""
    from tqdm import tqdm

    from stmtrack_plugin.utils.video import Annotator

    total = source.count if args.max_frames is None else min(args.max_frames, source.count or args.max_frames)
    annotator = Annotator(args.video, args.frames_out) if (args.video or args.frames_out) else None
    stop = failure = None
    first_size = None
    frames = source.frames()
    bar = tqdm(total=total, unit="frame", desc=source.name, disable=args.no_progress,
               file=sys.stderr)
    try:
        for i in itertools.count():
            if args.max_frames is not None and i >= args.max_frames:
                break
            try:
                frame = next(frames)
            except StopIteration:
                break
            except ValueError as exc:  # corrupt image or undecodable video frame
                failure = str(exc)
                break
            if first_size is None:
                first_size = frame.shape[:2]
            elif frame.shape[:2] != first_size:
                failure = (f"{source.frame_label(i)} is {frame.shape[1]}x{frame.shape[0]} (WxH) "
                           f"but the first frame is {first_size[1]}x{first_size[0]}")
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
        stop = "interrupted"  # keep what was tracked: written by the caller, then exit 130
    except _Terminated:
        stop = "terminated"  # SIGTERM: the same, exit 143
    finally:
        bar.close()
        if annotator is not None:
            annotator.close()
    return stop, failure


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
