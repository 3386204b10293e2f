"""STMTrack for pytracking (visionml/pytracking, a source checkout; not the PyPI ``pytracking``).

pytracking's contract (``pytracking/evaluation/tracker.py``, ``tracker/base/basetracker.py``):

* ``run_tracker.py NAME PARAM`` needs the folder ``pytracking/tracker/NAME/`` (an ``isdir``
  check) whose module has ``get_tracker_class()``, and ``pytracking/parameter/NAME/PARAM.py``
  with ``parameters()`` returning a ``TrackerParams`` (attribute bag with ``.get``);
* the tracker gets **RGB** uint8 frames, ``initialize(image, info)`` with ``info['init_bbox']``
  = [x, y, w, h] (0-based), and ``track(image, info=None)`` returns ``{'target_bbox': [...]}``;
  the VOT and video entry points call ``initialize_features()`` first.

``stmtrack-pytracking install --root CHECKOUT`` writes those small shim folders (see
:mod:`stmtrack_plugin.adapters.pytracking_install`); :func:`make_evaluation_tracker` runs the
same tracker through pytracking's ``run_dataset`` with no change to the checkout.

The network is loaded once per process and per (params, weights, device) and shared; every
tracker object (pytracking creates one per sequence, and one per target in multi-object runs)
has its own STMTracker with its own memory bank.
"""
from __future__ import annotations

import functools
import os
from collections import OrderedDict
from typing import Optional

import numpy as np

from stmtrack_plugin.adapters.factory import TrackerSpec
from stmtrack_plugin.config import WEIGHTS_ENV
from stmtrack_plugin.interfaces import Tracker


class _FallbackParams:
    """Stand-in for ``pytracking.utils.TrackerParams`` when pytracking is not importable."""

    def get(self, name, *default):
        if len(default) > 1:
            raise ValueError("get() takes at most one default")
        if not default:
            return getattr(self, name)
        return getattr(self, name, default[0])

    def has(self, name):
        return hasattr(self, name)


def _params_class():
    try:
        from pytracking.utils import TrackerParams
        return TrackerParams
    except ImportError:
        return _FallbackParams


def parameters(name: Optional[str] = None, weights: Optional[str] = None,
               device: Optional[str] = None, tracker: str = "stmtrack"):
    """pytracking parameter object naming STMTrack's parameter set, weights and device.

    ``weights`` None means ``$STMTRACK_WEIGHTS``, else the built-in model, at tracking time;
    ``name`` None means the parameter file those weights call for.
    """
    params = _params_class()()
    params.stmtrack_params = name
    params.weights = weights
    params.device = device
    params.stmtrack_tracker = tracker
    params.debug = 0
    params.visualization = False
    return params


@functools.lru_cache(maxsize=2)
def _cached_network(spec: TrackerSpec):
    """(network, device) for ``spec``: loaded once per process, shared by every tracker object.

    Only the network is shared; each tracker object holds its own STMTracker (memory bank and
    video state), so the targets of a multi-object run never mix.
    """
    import torch

    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking.tracker import build_model

    device = torch.device(spec.device or "cpu")
    # the network is prepared for the parameter file's compute dtype
    compute_dtype = load_parameters(spec.params_name()).compute_dtype
    return build_model(spec.weights, device, compute_dtype), device


def new_tracker(spec: TrackerSpec) -> Tracker:
    """A fresh tracker for ``spec`` around the cached network (OpenCV peers: built anew)."""
    if spec.kind != "stmtrack":
        return spec.build()
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.tracking import STMTracker

    model, device = _cached_network(spec)
    return STMTracker(model, load_parameters(spec.params_name()), device)


def _spec_from_params(params) -> TrackerSpec:
    return TrackerSpec(kind=getattr(params, "stmtrack_tracker", "stmtrack"),
                       params=getattr(params, "stmtrack_params", None),
                       weights=getattr(params, "weights", None) or os.environ.get(
                           WEIGHTS_ENV) or None,
                       device=getattr(params, "device", None))


class STMTrackPytrackingMixin:
    """pytracking tracker behaviour; combined with ``BaseTracker`` by :func:`get_tracker_class`."""

    multiobj_mode = "parallel"  # multi-object datasets: one tracker object (and memory) per target

    def __init__(self, params):
        self.params = params
        self.visdom = None
        self._object_id = None
        self._tracker = None

    def initialize_features(self):
        """Load the network now (pytracking calls this before VOT / video runs)."""
        spec = _spec_from_params(self.params)
        if spec.kind == "stmtrack":
            _cached_network(spec)

    @property
    def stmtracker(self) -> Tracker:
        """This object's own tracker (created on first use around the shared network)."""
        if self._tracker is None:
            self._tracker = new_tracker(_spec_from_params(self.params))
        return self._tracker

    def initialize(self, image, info: dict) -> dict:
        """``image`` HxWx3 uint8 RGB; ``info['init_bbox']`` [x, y, w, h] (or {obj_id: box})."""
        box = info["init_bbox"]
        if isinstance(box, dict):  # run_video passes OrderedDict({1: box})
            self._object_id, box = next(iter(box.items()))
        box = [float(v) for v in box]
        self.stmtracker.initialize(_rgb_to_bgr(image), box)
        return {"target_bbox": self._wrap(box)}

    def track(self, image, info: Optional[dict] = None) -> dict:
        out = self.stmtracker.track(_rgb_to_bgr(image))
        box = [float(v) for v in out.box]
        return {"target_bbox": self._wrap(box), "object_presence_score": float(out.score)}

    def _wrap(self, box):
        return box if self._object_id is None else OrderedDict({self._object_id: box})


def _rgb_to_bgr(image) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {arr.shape}")
    return np.ascontiguousarray(arr[:, :, ::-1])


def get_tracker_class():
    """The tracker class for ``pytracking.tracker.stmtrack`` (subclasses ``BaseTracker``)."""
    try:
        from pytracking.tracker.base import BaseTracker
    except ImportError:
        return STMTrackPytrackingMixin
    return type("STMTrack", (STMTrackPytrackingMixin, BaseTracker),
                {"__module__": __name__, "__init__": STMTrackPytrackingMixin.__init__})


def import_pytracking(root: str):
    """Put checkout ``root`` first on ``sys.path`` and import pytracking from it.

    Raises a clear error when another ``pytracking`` (e.g. the unrelated PyPI package) shadows it.
    """
    import importlib
    import sys

    root = os.path.abspath(root)
    if not os.path.isfile(os.path.join(root, "pytracking", "evaluation", "tracker.py")):
        raise FileNotFoundError(f"{root} is not a pytracking checkout (no "
                                "pytracking/evaluation/tracker.py)")
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module("pytracking")
    where = os.path.dirname(os.path.abspath(module.__file__ or ""))
    if not where.startswith(root):
        raise ImportError(f"'import pytracking' found {where}, not the checkout {root}; the PyPI "
                          "package 'pytracking' is unrelated: pip uninstall pytracking")
    return module


def make_evaluation_tracker(name: str = "stmtrack", params: Optional[str] = None,
                            weights: Optional[str] = None, device: Optional[str] = None,
                            run_id: Optional[int] = None, display_name: Optional[str] = None):
    """A ``pytracking.evaluation.Tracker`` for STMTrack without shim files in the checkout.

    ``params`` is a parameter name or a ``.py`` file (whose stem names the results folder);
    None: the one the weights call for (:func:`stmtrack_plugin.weights.choose_params`).

    Results go where pytracking puts them (``<results_path>/<name>/<params>[_<run_id>]``), so
    pytracking's analysis scripts and published raw results compare directly. pytracking must
    be importable (see :func:`import_pytracking`).
    """
    from pytracking.evaluation import Tracker

    from stmtrack_plugin.weights import choose_params

    params = choose_params(params, weights)
    param_name = os.path.splitext(os.path.basename(params))[0] if params.endswith(".py") \
        else params

    class PluginTracker(Tracker):
        def __init__(self):
            super().__init__(name, param_name, run_id, display_name)
            self.tracker_class = get_tracker_class()

        def get_parameters(self):
            return parameters(params, weights=weights, device=device)

    return PluginTracker()


def run_dataset(root: str, dataset: str, params: Optional[str] = None, weights: Optional[str] = None,
                device: Optional[str] = None, sequence: Optional[str] = None, threads: int = 0,
                run_id: Optional[int] = None, name: str = "stmtrack"):
    """Run STMTrack on a pytracking dataset (``otb``, ``got10k_val``, ...) of checkout ``root``."""
    import_pytracking(root)
    from pytracking.evaluation import get_dataset
    from pytracking.evaluation.running import run_dataset as pt_run_dataset

    data = get_dataset(dataset)
    if sequence is not None:
        data = [data[int(sequence)]] if sequence.isdigit() else [data[sequence]]
    tracker = make_evaluation_tracker(name, params, weights, device, run_id)
    pt_run_dataset(data, [tracker], debug=0, threads=threads)
    return tracker.results_dir
