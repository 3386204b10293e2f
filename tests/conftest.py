"""Shared test fixtures: where ../shared lives, and small helpers."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the project's shared material (parity fixtures, sequences); overridable for unusual layouts
SHARED = Path(os.environ.get("STMTRACK_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        message = f"shared material not found at {SHARED} (set STMTRACK_SHARED)"
        if os.environ.get("CI"):  # in CI the parity fixtures must run, never silently skip
            pytest.fail(message)
        pytest.skip(message)
    return SHARED


@pytest.fixture(scope="session")
def sequences_dir(shared_dir) -> Path:
    return shared_dir / "data" / "sequences"


def _import_parity_module(shared: Path, name: str):
    import importlib.util

    path = shared / "parity" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_parity_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def reference_keys(shared_dir):
    """Ordered {key: shape} of the authors' test model (924 entries)."""
    import json
    from collections import OrderedDict

    with open(shared_dir / "reference" / "state_dict_keys.json") as f:
        return json.load(f, object_pairs_hook=OrderedDict)


@pytest.fixture(scope="session")
def seed0_weights(shared_dir, reference_keys, tmp_path_factory) -> Path:
    """The parity fixtures' seed-0 weights, regenerated with ../shared/parity/make_weights.py
    and saved in the authors' layout {'epoch': -1, 'model_state_dict': ...}."""
    import torch

    make_weights = _import_parity_module(shared_dir, "make_weights")
    state = make_weights.make_state_dict(reference_keys, 0)
    path = tmp_path_factory.mktemp("weights") / "seed0.pkl"
    torch.save({"epoch": -1, "model_state_dict": state}, path)
    return path


@pytest.fixture(scope="session")
def standin_module(shared_dir):
    """``../shared/parity/standin_model.py`` imported as a module."""
    return _import_parity_module(shared_dir, "standin_model")


@pytest.fixture(scope="session")
def tiny_model_config():
    """A reduced-width model that runs in milliseconds (use crop sizes 129 or 161)."""
    from stmtrack_plugin.config import ModelConfig

    return ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32)


@pytest.fixture(autouse=True)
def _torch_threads(request):
    """One torch thread per test unless marked ``@pytest.mark.torch_threads(n)``.

    Small tensors gain nothing from a second thread, and OpenMP threads that spin-wait on a
    loaded 2-core machine can make a 1 s test take a minute. The full-size parity runs ask for 2
    (the fixtures were produced with 2 threads).
    """
    import torch

    marker = request.node.get_closest_marker("torch_threads")
    before = torch.get_num_threads()
    torch.set_num_threads(marker.args[0] if marker else 1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def tiny_checkpoint(tmp_path, tiny_model_config):
    """A 1/8-width checkpoint and a parameter file with crops that fit it (129 px)."""
    from stmtrack_plugin.model import build_model, save_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model

    weights = tmp_path / "tiny.pkl"
    save_checkpoint(randomize_model(build_model(tiny_model_config), seed=3).eval(), weights)
    params = tmp_path / "tiny_params.py"
    params.write_text(
        "import dataclasses\n"
        "from stmtrack_plugin.config import ModelConfig, TrackerParams\n\n\n"
        "def parameters():\n"
        "    return TrackerParams(name='tiny', crop_size=129, model=ModelConfig(\n"
        "        width_mult=0.125, neck_channels=32, head_channels=32))\n")
    return weights, params
