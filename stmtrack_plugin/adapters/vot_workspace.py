"""Prepare a VOT toolkit (0.7.4) workspace for STMTrack, fully offline.

Writes ``config.yaml``, ``trackers.ini`` (entry ``stmtrack``, optional OpenCV peers), a local
VOT2018-style stack without a ``dataset:`` key (so nothing is downloaded), and converts
OTB-layout sequences (``<Seq>/img/*.jpg`` + ``groundtruth_rect.txt``) into VOT layout
(``sequences/list.txt``, ``<seq>/sequence``, ``<seq>/groundtruth.txt``, ``<seq>/color/%08d.jpg``).

Coordinates: OTB ground truth is 1-based; VOT rectangles are 0-based, so ``x`` and ``y`` are
reduced by 1 on conversion (``--gt-base 0`` for sources that are already 0-based).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from stmtrack_plugin.adapters.factory import DEVICE_ENV, PARAMS_ENV
from stmtrack_plugin.adapters.peers import NANOTRACK_ENV, PEER_NAMES
from stmtrack_plugin.adapters.vot_trax import TRACKER_ENV
from stmtrack_plugin.config import WEIGHTS_ENV
from stmtrack_plugin.utils.io import atomic_write_text
from stmtrack_plugin.utils.sequences import find_otb_sequences, load_otb_sequence

#: VOT2018 EAO interval (the built-in vot2018/shortterm stack); short clips need a smaller one
VOT2018_EAO = (100, 356)

_STACK = """title: VOT2018-style short-term stack (local, written by stmtrack vot-workspace)
experiments:
  baseline:
    type: supervised
    repetitions: {repetitions}
    skip_initialize: 5
    analyses:
      - type: supervised_average_ar
        sensitivity: 30
      - type: supervised_eao_score
        low: {low}
        high: {high}
      - type: supervised_eao_curve
  unsupervised:
    type: unsupervised
    repetitions: 1
    analyses:
      - type: average_accuracy
"""


@dataclass(frozen=True)
class WorkspaceOptions:
    """What goes into the workspace. ``stack`` None writes the local stack (``stack.yaml``)."""

    params: Optional[str] = None  # None: the server picks (the weights' own file, or vot2018)
    weights: Optional[str] = None
    device: Optional[str] = None
    tracker_id: str = "stmtrack"
    timeout: int = 300
    python: str = field(default_factory=lambda: sys.executable)
    peers: tuple = ()
    nanotrack_dir: Optional[str] = None
    stack: Optional[str] = None
    eao_interval: tuple = VOT2018_EAO
    repetitions: int = 15
    max_frames: Optional[int] = None
    gt_base: int = 1
    copy_frames: bool = False


def tracker_entry(section: str, label: str, env: dict, timeout: int, python: str) -> str:
    """One ``trackers.ini`` section for the TraX server (comments on their own lines)."""
    lines = [f"[{section}]", f"label = {label}", "protocol = traxpython",
             "command = stmtrack_plugin.vot_trax",
             "# seconds the toolkit waits for each initialise/frame reply",
             f"timeout = {int(timeout)}", f"python = {python}"]
    lines += [f"env_{k} = {v}" for k, v in env.items() if v]
    return "\n".join(lines) + "\n"


def trackers_ini(opts: WorkspaceOptions) -> str:
    """``trackers.ini`` text: the STMTrack entry plus one per requested peer."""
    env = {PARAMS_ENV: _abs_if_file(opts.params) if opts.params else None,
           WEIGHTS_ENV: os.path.abspath(opts.weights) if opts.weights else None,
           DEVICE_ENV: opts.device}
    parts = ["# written by `stmtrack vot-workspace`; the server is stmtrack_plugin.vot_trax\n",
             tracker_entry(opts.tracker_id, "STMTrack (stmtrack-plugin)", env, opts.timeout,
                           opts.python)]
    for peer in opts.peers:
        if peer not in PEER_NAMES:
            raise ValueError(f"unknown peer {peer!r}; choose from {', '.join(PEER_NAMES)}")
        penv = {TRACKER_ENV: peer, NANOTRACK_ENV:
                os.path.abspath(opts.nanotrack_dir) if opts.nanotrack_dir else None}
        parts.append(tracker_entry(peer, f"OpenCV {peer}", penv, opts.timeout, opts.python))
    return "\n".join(parts)


def _abs_if_file(params: str) -> str:
    return os.path.abspath(params) if params.endswith(".py") else params


def convert_sequence(src: str, dst: str, max_frames: Optional[int] = None, gt_base: int = 1,
                     copy_frames: bool = False) -> int:
    """Write one OTB-layout sequence in VOT layout at ``dst``; returns the number of frames.

    Frames are symlinked (or copied) as ``color/%08d.jpg``; ground truth becomes 0-based
    ``x,y,w,h`` lines. The ``sequence`` metadata file is written last, so a folder without it is
    an unfinished conversion and is redone.
    """
    import cv2

    seq = load_otb_sequence(src)
    if seq.groundtruth is None:
        raise ValueError(f"{src}: no ground truth")
    n = len(seq) if max_frames is None else min(len(seq), int(max_frames))
    if any(not f.lower().endswith((".jpg", ".jpeg")) for f in seq.frames[:n]):
        raise ValueError(f"{src}: VOT layout needs JPEG frames")
    color = os.path.join(dst, "color")
    os.makedirs(color, exist_ok=True)
    for i, frame in enumerate(seq.frames[:n], 1):
        target = os.path.join(color, f"{i:08d}.jpg")
        if os.path.lexists(target):
            os.unlink(target)
        (shutil.copyfile if copy_frames else os.symlink)(os.path.abspath(frame), target)
    gt = seq.groundtruth[:n].copy()
    gt[:, :2] -= gt_base
    atomic_write_text(os.path.join(dst, "groundtruth.txt"),
                      "".join(f"{x:.4f},{y:.4f},{w:.4f},{h:.4f}\n" for x, y, w, h in gt))
    image = cv2.imread(seq.frames[0], cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"could not read {seq.frames[0]}")
    meta = (f"channels.color=color/%08d.jpg\nformat=default\nfps=30\n"
            f"name={os.path.basename(dst)}\nwidth={image.shape[1]}\nheight={image.shape[0]}\n"
            f"length={n}\n")
    atomic_write_text(os.path.join(dst, "sequence"), meta)
    return n


def prepare_workspace(workspace: str, sequence_root: Optional[str], opts: WorkspaceOptions,
                      names: Optional[Sequence[str]] = None) -> list:
    """Create or update ``workspace``; returns the sequence names in ``sequences/list.txt``.

    Existing converted sequences are kept (delete the folder to redo one). With
    ``sequence_root`` None only the configuration files are (re)written.
    """
    os.makedirs(workspace, exist_ok=True)
    seq_dir = os.path.join(workspace, "sequences")
    converted = []
    if sequence_root is not None:
        names = list(names) if names else find_otb_sequences(sequence_root)
        for name in names:
            dst = os.path.join(seq_dir, name)
            if not os.path.isfile(os.path.join(dst, "sequence")):
                convert_sequence(os.path.join(sequence_root, name), dst, opts.max_frames,
                                 opts.gt_base, opts.copy_frames)
            converted.append(name)
        atomic_write_text(os.path.join(seq_dir, "list.txt"), "".join(n + "\n" for n in converted))
    stack = opts.stack
    if stack is None:
        low, high = opts.eao_interval
        atomic_write_text(os.path.join(workspace, "stack.yaml"),
                          _STACK.format(low=int(low), high=int(high),
                                        repetitions=int(opts.repetitions)))
        stack = "./stack.yaml"
    atomic_write_text(os.path.join(workspace, "config.yaml"),
                      f"registry:\n- ./trackers.ini\nstack: {stack}\nsequences: sequences\n")
    atomic_write_text(os.path.join(workspace, "trackers.ini"), trackers_ini(opts))
    return converted


def sequence_lengths(workspace: str) -> Dict[str, int]:
    """``{name: frames}`` of the sequences in ``sequences/list.txt`` (from each ``sequence``)."""
    seq_dir = os.path.join(workspace, "sequences")
    lengths = {}
    list_file = os.path.join(seq_dir, "list.txt")
    if not os.path.isfile(list_file):
        return lengths
    with open(list_file) as f:
        names = [line.strip() for line in f if line.strip()]
    for name in names:
        meta = os.path.join(seq_dir, name, "sequence")
        if os.path.isfile(meta):
            with open(meta) as f:
                m = re.search(r"^length=(\d+)\s*$", f.read(), re.MULTILINE)
            if m:
                lengths[name] = int(m.group(1))
    return lengths


def stack_eao_interval(stack: str) -> Optional[Tuple[int, int]]:
    """(low, high) of the EAO score analysis of a stack file or built-in stack name
    (``vot2018/shortterm`` is ``<vot package>/stack/vot2018/shortterm.yaml``); None if unknown."""
    import importlib.util

    path = stack
    if not os.path.isfile(path):
        spec = importlib.util.find_spec("vot")
        if spec is None or not spec.origin:
            return None
        path = os.path.join(os.path.dirname(spec.origin), "stack", stack + ".yaml")
        if not os.path.isfile(path):
            return None
    with open(path) as f:
        text = f.read()
    low, high = re.search(r"\blow:\s*(\d+)", text), re.search(r"\bhigh:\s*(\d+)", text)
    return (int(low.group(1)), int(high.group(1))) if low and high else None


def _no_weights_note() -> str:
    """What a workspace without weights will track with: the built-in model, if it is usable."""
    from stmtrack_plugin import weights as builtin

    try:
        path = builtin.builtin_weights_path()
        sha = builtin.read_manifest()["sha256"].lower()
    except (OSError, ValueError) as exc:
        return ("warning: no weights: trackers.ini names none, $STMTRACK_WEIGHTS is not set and "
                f"the built-in model cannot be used ({exc}), so unless $STMTRACK_WEIGHTS is set "
                "when `vot evaluate` runs the tracker process fails at start and the VOT toolkit "
                "reports only \"Unable to connect\". Pass --weights FILE (trained, or seeded "
                "random weights from `stmtrack weights random --out FILE` for a smoke test).")
    return (f"note: no weights: trackers.ini names none and $STMTRACK_WEIGHTS is not set, so the "
            f"tracker uses the built-in {builtin.BUILTIN.title} model ({path}, sha256 {sha}); "
            "pass --weights FILE (or set $STMTRACK_WEIGHTS when `vot evaluate` runs) for the "
            "authors' checkpoint.")


def workspace_warnings(workspace: str, opts: WorkspaceOptions,
                       env: Optional[Mapping[str, str]] = None) -> List[str]:
    """What would make ``vot evaluate`` / ``vot analysis`` fail or mislead, said at creation.

    * no weights in ``trackers.ini`` and no ``$STMTRACK_WEIGHTS`` now: the tracker will use the
      built-in model (said, with its SHA-256); when that is not installed (or fails its check)
      the tracker process would exit at start and the toolkit only reports "Unable to connect";
    * sequences no longer than the EAO interval's ``low``: vot-toolkit 0.7.4 averages the EAO
      curve over ``[low, high]`` of a curve as long as the longest sequence, so EAO is NaN; the
      interval is ``--eao-interval`` of the local stack (a built-in stack's is fixed).
    """
    env = os.environ if env is None else env
    notes = []
    if not opts.weights and not env.get(WEIGHTS_ENV):
        notes.append(_no_weights_note())
    lengths = sequence_lengths(workspace)
    interval = tuple(opts.eao_interval) if opts.stack is None else stack_eao_interval(opts.stack)
    if lengths and interval:
        low, high = interval
        longest = max(lengths.values())
        fix = (f"pass --eao-interval LOW HIGH below the sequence length (e.g. "
               f"--eao-interval {max(1, longest // 6)} {max(longest - 1, 1)})")
        if opts.stack is not None:
            fix = f"the stack {opts.stack} fixes it; drop --stack to use the local stack and " + fix
        if longest <= low:
            notes.append(f"warning: EAO will be NaN: the longest sequence has {longest} frames, "
                         f"not more than the EAO interval's low bound {low} ({low}-{high}); "
                         + fix + ".")
        elif min(lengths.values()) <= high:
            short = sorted(n for n, k in lengths.items() if k <= high)
            notes.append(f"warning: {len(short)} sequence(s) have no more frames than the EAO "
                         f"interval's high bound {high} ({low}-{high}), so EAO averages only "
                         f"part of it and is not comparable with published values; " + fix + ".")
    return notes
