"""Loss and learning-rate curves from ``train_log.csv`` (matplotlib, Agg canvas)."""
from __future__ import annotations

from stmtrack_plugin.training.checkpoints import read_log


def plot_training_log(csv_path: str, png_path: str) -> None:
    """Write a two-panel PNG: the losses (total, cls, ctr, iou) and the LR per optimiser step."""
    import numpy as np

    from stmtrack_plugin.utils.figures import new_figure, save_figure

    rows = read_log(csv_path)
    if not rows:
        return
    step = np.array([r["global_step"] for r in rows])
    fig = new_figure(figsize=(8, 6))
    ax_loss, ax_lr = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for key, style in (("loss", "k-"), ("cls", "C0-"), ("ctr", "C1-"), ("iou", "C2-")):
        values = np.array([r[key] for r in rows])
        ax_loss.plot(step, values, style, lw=0.6, alpha=0.35)
        window = max(len(values) // 50, 1)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax_loss.plot(step[window - 1:], smooth, style, lw=1.5, label=f"{key} (weighted)")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right")
    ax_loss.grid(alpha=0.3)
    ax_lr.plot(step, [r["lr"] for r in rows], "C3-")
    ax_lr.set_xlabel("optimiser step")
    ax_lr.set_ylabel("LR (x1 group)")
    ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, png_path, dpi=100)
