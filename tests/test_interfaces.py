"""The seams of ``stmtrack_plugin.interfaces``: every model and tracker the package drives
satisfies its Protocol, and the tracker refuses (clearly) a model that does not."""
import numpy as np
import pytest

from stmtrack_plugin.config import load_parameters
from stmtrack_plugin.interfaces import ScoreGeometry, Tracker, TrackingModel, TrackOutput
from stmtrack_plugin.tracking import STMTracker


def test_models_satisfy_tracking_model(standin_module, tiny_model_config):
    from stmtrack_plugin.model import build_model

    standin = standin_module.StandInModel()
    network = build_model(tiny_model_config)
    assert isinstance(standin, TrackingModel) and isinstance(network, TrackingModel)
    # score_geometry is optional: the stand-in has none, the network says its own
    assert not isinstance(standin, ScoreGeometry)
    assert isinstance(network, ScoreGeometry)


def test_trackers_satisfy_tracker(standin_module):
    from stmtrack_plugin.adapters.peers import OpenCVPeer

    tracker = STMTracker(standin_module.StandInModel(), load_parameters("default"))
    assert isinstance(tracker, Tracker)
    assert issubclass(OpenCVPeer, Tracker)
    image = np.full((120, 160, 3), 60, np.uint8)
    image[40:70, 60:100] = (200, 120, 40)
    tracker.initialize(image, [60, 40, 40, 30])
    out = tracker.track(image)
    assert isinstance(out, TrackOutput) and len(out.box) == 4


def test_tracker_names_a_model_without_the_protocol():
    class NoTrack:
        def memorize(self, frames, fg_bg):
            return frames

    with pytest.raises(TypeError, match="NoTrack is not a TrackingModel.*track"):
        STMTracker(NoTrack(), load_parameters("default"))


def test_environment_variable_names_are_written_once():
    """Each ``STMTRACK_*`` name appears in the package code only where its constant is set."""
    import ast
    from pathlib import Path

    import stmtrack_plugin

    root = Path(stmtrack_plugin.__file__).parent
    places = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and node.value.startswith("STMTRACK_") and node.value.isidentifier()
                    and id(node) not in docstrings):
                places.setdefault(node.value, []).append(f"{path.relative_to(root)}:{node.lineno}")
    assert places, "no environment variable constants found"
    assert {k: v for k, v in places.items() if len(v) > 1} == {}
