"""Figures drawn with matplotlib's object-oriented API on an Agg canvas.

No ``pyplot`` and no ``matplotlib.use``: saving a plot leaves the caller's backend (a notebook's,
a GUI's) as it was, and needs no display.
"""
from __future__ import annotations

import os

from stmtrack_plugin.utils.io import PathLike


def new_figure(**kwargs):
    """A ``matplotlib.figure.Figure(**kwargs)`` (figsize, dpi, ...) with its own Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: PathLike, **kwargs) -> str:
    """Write ``fig`` to ``path`` (format from its extension) atomically; returns the path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    stem, ext = os.path.splitext(os.path.basename(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{stem}{ext}")
    try:
        fig.savefig(tmp, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
