"""Plots are written without touching matplotlib's global backend (a notebook's stays as it was)."""
import os

import matplotlib
import numpy as np
import pytest

from stmtrack_plugin.evaluation.compare import TrackerScores, plot_curves
from stmtrack_plugin.evaluation.metrics import ope
from stmtrack_plugin.training.checkpoints import LOG_FIELDS
from stmtrack_plugin.training.plots import plot_training_log

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def svg_backend():
    """A backend no plot of ours asks for; restored afterwards."""
    before = matplotlib.get_backend()
    matplotlib.use("svg")
    yield "svg"
    matplotlib.use(before)


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC


def test_comparison_plots_keep_the_backend(svg_backend, tmp_path):
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (8, 1))
    result = ope(gt + 1.0, gt)
    scores = [TrackerScores("a", result, 30.0, {"v": result})]
    paths = plot_curves(scores, str(tmp_path / "plots"))
    assert matplotlib.get_backend() == svg_backend
    assert [os.path.basename(p) for p in paths] == ["success_plot.png", "precision_plot.png"]
    assert all(_is_png(p) for p in paths)
    assert sorted(os.listdir(tmp_path / "plots")) == ["precision_plot.png", "success_plot.png"]


def test_training_plot_keeps_the_backend(svg_backend, tmp_path):
    log = tmp_path / "train_log.csv"
    rows = [",".join(LOG_FIELDS)]
    rows += [",".join(str(v) for v in (0, s, s, 0.01, 1.0 / (s + 1), 0.5, 0.3, 0.2, 10.0))
             for s in range(12)]
    log.write_text("\n".join(rows) + "\n")
    plot_training_log(str(log), str(tmp_path / "train_log.png"))
    assert matplotlib.get_backend() == svg_backend
    assert _is_png(tmp_path / "train_log.png")


def test_importing_the_toolkit_adapters_keeps_the_backend():
    """No module of ours picks a backend at import (got10k's own plots use whatever is set)."""
    import subprocess
    import sys

    code = ("import matplotlib; matplotlib.use('svg'); "
            "import stmtrack_plugin.adapters.got10k_experiments, stmtrack_plugin.cli.main; "
            "print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"


def test_readme_frame_strip_draws_the_chosen_frames(sequences_dir, tmp_path):
    """docs/make_strip.py: evenly picked frames side by side, boxes drawn where they are."""
    import importlib.util

    import cv2

    script = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "make_strip.py")
    spec = importlib.util.spec_from_file_location("make_strip", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seq = sequences_dir / "Crossing"
    gt = np.loadtxt(seq / "groundtruth_rect.txt", delimiter="\t" if b"\t" in
                    (seq / "groundtruth_rect.txt").read_bytes() else ",")
    results = tmp_path / "res.txt"
    np.savetxt(results, gt + np.array([30, 0, 0, 0]), fmt="%.2f", delimiter=",")
    out = tmp_path / "strip.png"
    assert module.main([str(seq), str(results), "--out", str(out), "--frames", "3",
                        "--height", "100"]) == 0
    strip = cv2.imread(str(out))
    first = cv2.imread(str(sorted((seq / "img").iterdir())[0]))
    width = int(round(first.shape[1] * 100 / first.shape[0]))
    assert strip.shape == (100, 3 * width + 2 * 4, 3)
    x, y, w, h = (gt[0] + np.array([30, 0, 0, 0])) * 100 / first.shape[0]
    green = strip[int(y + h / 2), int(round(x)) - 1:int(round(x)) + 2]
    assert (green[:, 1] > 150).any() and (green[:, 2] < 100).any()
    assert module.main([str(seq), str(results), "--out", str(out), "--frames", "0"]) == 1
