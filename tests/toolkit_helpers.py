"""Helpers for the toolkit tests: test layouts built from ../shared sequences, test trackers."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np


def truncated_otb_copy(src: Path, dst: Path, n: int, name: str = None) -> Path:
    """OTB-layout copy of ``src`` with the first ``n`` frames (symlinked) and GT lines."""
    out = dst / (name or src.name)
    (out / "img").mkdir(parents=True, exist_ok=True)
    frames = sorted((src / "img").iterdir())[:n]
    for i, frame in enumerate(frames, 1):
        link = out / "img" / f"{i:04d}.jpg"
        if not link.exists():
            os.symlink(frame, link)
    lines = (src / "groundtruth_rect.txt").read_text().splitlines()[:n]
    (out / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return out


class TemplateTracker:
    """Deterministic normalised-cross-correlation tracker (BGR in, STMTracker interface)."""

    def __init__(self, search: float = 2.0):
        self.search = search

    def initialize(self, image, box):
        import cv2

        x, y, w, h = (int(round(v)) for v in box)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        x, y = max(x, 0), max(y, 0)
        self.template = gray[y:y + max(h, 2), x:x + max(w, 2)].copy()
        self.box = [float(v) for v in box]

    def track(self, image):
        import cv2

        from stmtrack_plugin.adapters.peers import PeerResult

        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        x, y, w, h = self.box
        th, tw = self.template.shape
        pad_x, pad_y = int(tw * self.search), int(th * self.search)
        x0, y0 = max(int(x) - pad_x, 0), max(int(y) - pad_y, 0)
        x1 = min(int(x) + tw + pad_x, gray.shape[1])
        y1 = min(int(y) + th + pad_y, gray.shape[0])
        window = gray[y0:y1, x0:x1]
        if window.shape[0] < th or window.shape[1] < tw:
            return PeerResult(tuple(self.box), 0.0)
        res = cv2.matchTemplate(window, self.template, cv2.TM_CCOEFF_NORMED)
        _, score, _, loc = cv2.minMaxLoc(res)
        self.box = [float(x0 + loc[0]), float(y0 + loc[1]), w, h]
        return PeerResult(tuple(self.box), float(score))


class ShiftingTracker:
    """Returns the init box moved by ``step`` px right per frame: fails predictably."""

    def __init__(self, step: float = 40.0, delay: float = 0.0):
        self.step, self.delay = step, delay

    def initialize(self, image, box):
        self.box = np.asarray(box, dtype=np.float64)

    def track(self, image):
        import time

        from stmtrack_plugin.adapters.peers import PeerResult

        time.sleep(self.delay)
        self.box = self.box + np.array([self.step, 0, 0, 0])
        return PeerResult(tuple(self.box), 0.5)


class CrashOnWideFrames(TemplateTracker):
    """Raises on frames wider than ``max_width`` (a tracker bug on one sequence)."""

    def __init__(self, max_width: int = 400):
        super().__init__()
        self.max_width = max_width

    def initialize(self, image, box):
        if image.shape[1] > self.max_width:
            raise RuntimeError(f"simulated tracker crash on a {image.shape[1]} px wide frame")
        super().initialize(image, box)


def link_frames(src_dir: Path, dst_dir: Path, n: int, fmt: str) -> None:
    """Symlink the first ``n`` frames of ``src_dir`` into ``dst_dir`` named ``fmt % (1..n)``."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(sorted(src_dir.iterdir())[:n], 1):
        os.symlink(frame, dst_dir / (fmt % i))


def gt_lines(seq_dir: Path, n: int) -> str:
    """The first ``n`` lines of an OTB sequence's ``groundtruth_rect.txt``."""
    return "\n".join((seq_dir / "groundtruth_rect.txt").read_text().splitlines()[:n]) + "\n"


def make_template_tracker():
    return TemplateTracker()


def make_crashing_tracker():
    return CrashOnWideFrames()


class ServedTracker:
    """What the toolkit subprocess tests run: a TrackerSpec plus the environment it needs."""

    def __init__(self, spec, env=None):
        self.spec = spec
        self.env = dict(env or {})

    @property
    def params(self):
        return self.spec.params

    @property
    def weights(self):
        return self.spec.weights

    def build(self):
        return self.spec.build()

    @property
    def cli_args(self) -> list:
        """Options selecting this tracker in `stmtrack eval` / `stmtrack-pytracking run`."""
        s = self.spec
        if s.kind != "stmtrack":
            return ["--tracker", s.kind, "--nanotrack-dir", s.nanotrack_dir]
        return ["--params", s.params, "--weights", s.weights, "--device", "cpu", "--threads", "1"]


TINY_PARAMS = '''"""Tiny STMTrack for the toolkit tests: random weights, crop 129 (5x5 score map)."""
import dataclasses

from stmtrack_plugin.config import ModelConfig, load_parameters


def parameters():
    return dataclasses.replace(
        load_parameters("otb"), name="tiny", crop_size=129,
        model=ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32))
'''


def served_tracker(workdir: Path, shared_dir: Path = None) -> ServedTracker:
    """The real STMTracker with a tiny seeded random model, as the toolkits will load it:
    a parameter file ``tiny.py`` and a checkpoint written by ``save_checkpoint``."""
    import torch

    from stmtrack_plugin.adapters.factory import TrackerSpec
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.model import build_model, save_checkpoint

    params_file = Path(workdir) / "tiny.py"
    params_file.write_text(TINY_PARAMS)
    weights = Path(workdir) / "tiny_weights.pth"
    torch.manual_seed(0)
    model = build_model(load_parameters(str(params_file)).model)
    save_checkpoint(model, str(weights), epoch=0)
    spec = TrackerSpec(params=str(params_file), weights=str(weights), device="cpu")
    # one torch thread: the subprocesses (VOT server, pytracking) run several at a time on 2
    # cores, where oversubscribed threads make the tiny model ~10x slower
    return ServedTracker(spec, {"STMTRACK_DEVICE": "cpu", "OMP_NUM_THREADS": "1"})


@contextlib.contextmanager
def one_thread():
    """Run direct reference tracking with one torch thread, like the toolkit subprocesses."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class PidRecordingTracker:
    """Picklable factory: each process that builds a tracker leaves ``<folder>/<pid>``; the
    tracker is slow (``delay`` s per frame), so a run with it is still going when killed."""

    def __init__(self, folder: str, delay: float = 2.0):
        self.folder, self.delay = folder, delay

    def __call__(self):
        Path(self.folder, str(os.getpid())).write_text("")
        return ShiftingTracker(step=0.0, delay=self.delay)
