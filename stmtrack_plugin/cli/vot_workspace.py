"""Prepare a VOT toolkit workspace: config.yaml, trackers.ini entry `stmtrack`, a local
VOT2018-style stack and OTB-layout sequences converted to VOT layout.

Then, in the workspace: `vot evaluate stmtrack`, `vot analysis --name NAME`, `vot report`.
Supported toolkit: vot-toolkit 0.7.4 with attributee 0.1.9 (`pip install "stmtrack-plugin[vot]"`).
"""
from __future__ import annotations

import argparse
import os
import sys

from stmtrack_plugin.adapters.vot_workspace import (VOT2018_EAO, WorkspaceOptions,
                                                    prepare_workspace, workspace_warnings)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workspace", help="workspace folder (created if missing)")
    p.add_argument("--sequences", metavar="OTB_ROOT",
                   help="folder of OTB-layout sequences to convert (omit to only rewrite config)")
    p.add_argument("--names", nargs="+", help="convert only these sequences")
    p.add_argument("--max-frames", type=int, help="keep only the first N frames (smoke tests)")
    p.add_argument("--gt-base", type=int, choices=(0, 1), default=1,
                   help="index base of the source ground truth (OTB: 1)")
    p.add_argument("--copy-frames", action="store_true", help="copy frames instead of symlinks")
    p.add_argument("--params", help="parameter name or .py file (default: the one the weights "
                   "call for when the toolkit runs: lite for a Lite0 checkpoint, else vot2018)")
    p.add_argument("--weights", help="checkpoint (else $STMTRACK_WEIGHTS when the toolkit runs, "
                   "else the built-in model)")
    p.add_argument("--device", help="torch device for the tracker process")
    p.add_argument("--tracker-id", default="stmtrack", help="trackers.ini section name")
    p.add_argument("--timeout", type=int, default=300, help="seconds per tracker reply")
    p.add_argument("--python", default=sys.executable, help="interpreter of the tracker process")
    p.add_argument("--peers", default="", help="also register OpenCV peers, e.g. mil,nanotrack")
    p.add_argument("--nanotrack-dir", help="folder with the NanoTrack ONNX files")
    p.add_argument("--stack", help="built-in stack name (e.g. vot2018/shortterm) instead of the "
                   "local stack.yaml")
    p.add_argument("--eao-interval", type=int, nargs=2, default=VOT2018_EAO,
                   metavar=("LOW", "HIGH"), help="EAO interval of the local stack (frames; "
                   "sequences must be longer than LOW, or EAO is NaN)")
    p.add_argument("--repetitions", type=int, default=15)


def run(args) -> int:
    if args.weights and not os.path.isfile(args.weights):
        print(f"error: weights file not found: {args.weights}", file=sys.stderr)
        return 2
    opts = WorkspaceOptions(
        params=args.params, weights=args.weights, device=args.device, tracker_id=args.tracker_id,
        timeout=args.timeout, python=args.python,
        peers=tuple(p for p in args.peers.split(",") if p), nanotrack_dir=args.nanotrack_dir,
        stack=args.stack, eao_interval=tuple(args.eao_interval), repetitions=args.repetitions,
        max_frames=args.max_frames, gt_base=args.gt_base, copy_frames=args.copy_frames)
    names = prepare_workspace(args.workspace, args.sequences, opts, args.names)
    for note in workspace_warnings(args.workspace, opts):
        print(note, file=sys.stderr)
    print(f"workspace ready: {os.path.abspath(args.workspace)} ({len(names)} sequence(s) converted)")
    print(f"next: cd {args.workspace} && vot evaluate {args.tracker_id} && "
          f"vot analysis --name stmtrack && vot report --name stmtrack")
    return 0
