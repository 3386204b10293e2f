"""The built-in model: weights path > $STMTRACK_WEIGHTS > built-in, its SHA-256 check, the notice,
parameters that follow the weights, and the entry points that use it.

Tiny lite checkpoints stand in for the shipped file (the built-in location is pointed at a tmp
folder); the tests at the end check the real shipped file once it is installed.
"""
import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stmtrack_plugin import weights as builtin
from stmtrack_plugin.config import ModelConfig, choose_weights, resolve_weights
from stmtrack_plugin.model.trunks import model_config_for

ROOT = Path(__file__).resolve().parents[1]
LITE = model_config_for("efficientnet_lite0", width_mult=0.125, neck_channels=16, head_channels=16,
                        head_num_convs=2)
TINY_GOOGLENET = ModelConfig(width_mult=0.125, neck_channels=16, head_channels=16,
                             head_num_convs=2)
NOTICE = "using the built-in STMTrack-Lite model"


def _save(config, path, seed=0):
    from stmtrack_plugin.model import build_model, save_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model

    save_checkpoint(randomize_model(build_model(config), seed=seed), str(path))
    return str(path)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpts")
    return {"lite": _save(LITE, folder / "lite.pkl"),
            "googlenet": _save(TINY_GOOGLENET, folder / "googlenet.pkl", seed=1)}


def _install(folder, source, sha=None):
    """Put ``source`` in ``folder`` as the built-in file, with a manifest (``sha`` overrides)."""
    folder.mkdir(exist_ok=True)
    model = builtin.BuiltinModel(folder=str(folder))
    Path(model.path).write_bytes(Path(source).read_bytes())
    Path(model.manifest_path).write_text(json.dumps({
        "file": model.file_name, "sha256": sha or _sha(model.path), "params": "lite",
        "recipe": "train_lite", "scores": {}, "licence": "test"}))
    return model


@pytest.fixture
def installed(tmp_path, monkeypatch, checkpoints):
    """The tiny lite checkpoint installed as the built-in model; no $STMTRACK_WEIGHTS."""
    monkeypatch.delenv("STMTRACK_WEIGHTS", raising=False)
    monkeypatch.setattr(builtin, "_NOTICE_SHOWN", set())
    model = _install(tmp_path / "builtin", checkpoints["lite"])
    monkeypatch.setattr(builtin, "BUILTIN", model)
    return model


def test_no_weights_uses_the_builtin_and_says_so_once(installed, capsys):
    first = choose_weights()
    assert first.builtin and first.source == "builtin" and first.path == installed.path
    assert resolve_weights() == installed.path
    assert resolve_weights(None, env={}) == installed.path
    err = capsys.readouterr().err
    assert err.count(NOTICE) == 1 and err.count("\n") == 1
    assert _sha(installed.path)[:12] in err and "--weights PATH" in err
    assert "$STMTRACK_WEIGHTS" in err


def test_explicit_path_and_environment_win(installed, checkpoints, monkeypatch, capsys):
    monkeypatch.setenv("STMTRACK_WEIGHTS", checkpoints["googlenet"])
    assert choose_weights().source == "env"
    assert resolve_weights() == checkpoints["googlenet"]
    choice = choose_weights(checkpoints["lite"])
    assert (choice.source, choice.path, choice.builtin) == ("argument", checkpoints["lite"], False)
    env = {"STMTRACK_WEIGHTS": checkpoints["lite"]}
    assert resolve_weights(None, env=env) == checkpoints["lite"]
    assert NOTICE not in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="from argument does not exist"):
        resolve_weights(str(Path(checkpoints["lite"]).parent / "nope.pkl"))


def test_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch, checkpoints):
    monkeypatch.delenv("STMTRACK_WEIGHTS", raising=False)
    wrong = "0" * 64
    model = _install(tmp_path / "bad", checkpoints["lite"], sha=wrong)
    monkeypatch.setattr(builtin, "BUILTIN", model)
    actual = _sha(model.path)
    with pytest.raises(builtin.BuiltinWeightsError, match="corrupted or were replaced") as info:
        resolve_weights()
    assert actual in str(info.value) and wrong in str(info.value)
    # a file changed after a first good check is caught too
    model = _install(tmp_path / "later", checkpoints["lite"])
    monkeypatch.setattr(builtin, "BUILTIN", model)
    builtin.builtin_weights_path()
    with open(model.path, "ab") as f:
        f.write(b"tampered")
    with pytest.raises(builtin.BuiltinWeightsError, match=_sha(model.path)):
        builtin.builtin_weights_path()


def test_missing_file_or_manifest_is_a_clear_error(tmp_path, monkeypatch, checkpoints):
    monkeypatch.delenv("STMTRACK_WEIGHTS", raising=False)
    monkeypatch.setattr(builtin, "BUILTIN", builtin.BuiltinModel(folder=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="built-in STMTrack-Lite weights are not "
                                                "installed.*--weights FILE"):
        resolve_weights()
    model = _install(tmp_path / "nomanifest", checkpoints["lite"])
    Path(model.manifest_path).unlink()
    monkeypatch.setattr(builtin, "BUILTIN", model)
    with pytest.raises(FileNotFoundError, match="manifest is not installed"):
        resolve_weights()
    Path(model.manifest_path).write_text(json.dumps({"sha256": "abc", "params": "lite"}))
    with pytest.raises(builtin.BuiltinWeightsError, match="64 hex digits"):
        resolve_weights()


def test_parameters_follow_the_weights_unless_named(installed, checkpoints):
    choose = builtin.choose_params
    assert choose(None, checkpoints["lite"]) == "lite"
    assert choose(None, checkpoints["googlenet"]) == "default"
    assert choose(None, checkpoints["googlenet"], fallback="otb") == "otb"
    assert choose(None, checkpoints["lite"], fallback="otb") == "lite"
    assert choose("otb", checkpoints["lite"]) == "otb"  # explicit wins
    assert choose(None) == "lite"  # the built-in: its manifest's file
    assert choose(None, env={"STMTRACK_WEIGHTS": checkpoints["googlenet"]}) == "default"
    assert builtin.checkpoint_backbone(checkpoints["lite"]) == "efficientnet_lite0"


def test_entry_point_specs_pick_lite_and_record_the_builtin_sha(installed, checkpoints):
    from stmtrack_plugin.adapters.factory import TrackerSpec, build_stmtracker
    from stmtrack_plugin.adapters.pytracking import _spec_from_params, parameters
    from stmtrack_plugin.adapters.vot_trax import build_parser

    record = TrackerSpec(fallback_params="otb").provenance()
    assert record["weights_sha256"] == _sha(installed.path)
    assert record["info.params"] == "lite" and record["params.crop_size"] == 225
    other = TrackerSpec(weights=checkpoints["googlenet"], fallback_params="otb").provenance()
    assert other["weights_sha256"] != record["weights_sha256"] and other["info.params"] == "otb"
    assert TrackerSpec(params="otb").provenance()["info.params"] == "otb"
    # the VOT TraX server (no $STMTRACK_PARAMS) and the pytracking shims follow the weights
    args = build_parser().parse_args([])
    assert args.params is None and args.weights is None
    assert TrackerSpec(params=args.params, fallback_params="vot2018").params_name() == "lite"
    assert _spec_from_params(parameters()).params_name() == "lite"
    assert _spec_from_params(parameters("otb")).params_name() == "otb"
    tracker = build_stmtracker()
    assert tracker.params.name == "lite" and tracker.score_size == 15  # 225 px at stride 16


def test_track_cli_without_weights_uses_the_builtin(installed, sequences_dir, tmp_path, capsys,
                                                    monkeypatch):
    from stmtrack_plugin.cli.main import main
    from stmtrack_plugin.tracking import STMTracker

    used = []
    original = STMTracker.from_params.__func__

    def spy(cls, params, weights=None, device=None, debug=False):
        used.append(params.name)
        return original(cls, params, weights, device, debug)

    monkeypatch.setattr(STMTracker, "from_params", classmethod(spy))
    out = tmp_path / "crossing.txt"
    rc = main(["track", str(sequences_dir / "Crossing"), "--out", str(out), "--max-frames", "3",
               "--no-progress", "--threads", "1"])
    assert rc == 0
    assert len(out.read_text().splitlines()) == 3 and used == ["lite"]
    assert capsys.readouterr().err.count(NOTICE) == 1
    rc = main(["track", str(sequences_dir / "Crossing"), "--out", str(out), "--max-frames", "2",
               "--no-progress", "--threads", "1", "--params", "otb", "--set", "crop_size=225"])
    assert rc == 0 and used[-1] == "otb"


def test_vot_workspace_says_it_uses_the_builtin(installed, tmp_path, monkeypatch):
    from stmtrack_plugin.adapters.vot_workspace import (WorkspaceOptions, trackers_ini,
                                                        workspace_warnings)

    notes = workspace_warnings(str(tmp_path), WorkspaceOptions(), env={})
    assert len(notes) == 1 and "built-in STMTrack-Lite model" in notes[0]
    assert _sha(installed.path) in notes[0] and "Unable to connect" not in notes[0]
    assert "STMTRACK_PARAMS" not in trackers_ini(WorkspaceOptions())  # the server follows weights
    assert "env_STMTRACK_PARAMS = otb" in trackers_ini(WorkspaceOptions(params="otb"))
    monkeypatch.setattr(builtin, "BUILTIN", builtin.BuiltinModel(folder=str(tmp_path / "none")))
    notes = workspace_warnings(str(tmp_path), WorkspaceOptions(), env={})
    assert "Unable to connect" in notes[0] and "not installed" in notes[0]


def test_setup_ships_the_builtin_files():
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", None) == "setup")
    package_data = ast.literal_eval(next(k.value for k in call.keywords
                                         if k.arg == "package_data"))
    patterns = package_data["stmtrack_plugin.weights"]
    assert {builtin.BUILTIN.file_name, builtin.BUILTIN.manifest_name} <= {
        p.replace("*", "stmtrack_lite0") for p in patterns}
    assert (ROOT / "stmtrack_plugin" / "weights" / "__init__.py").is_file()  # a package


def test_shipped_file_matches_its_manifest():
    manifest = builtin.read_manifest()
    assert builtin.builtin_weights_path() == builtin.BUILTIN.path
    assert _sha(builtin.BUILTIN.path) == manifest["sha256"].lower()
    assert manifest.get("file", builtin.BUILTIN.file_name) == builtin.BUILTIN.file_name


def test_shipped_file_loads_safely_as_a_lite_model():
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.model import verify_checkpoint

    config, state, _ = verify_checkpoint(builtin.BUILTIN.path, weights_only=True)
    assert config.backbone == "efficientnet_lite0" and state
    params = load_parameters(builtin.read_manifest()["params"])
    assert params.total_stride == config.total_stride
    # shipped as float16 weights (a 10 MB file, not 20) with float32 BN statistics, which the
    # loader puts into a float32 model
    for key, value in state.items():
        if value.is_floating_point():
            want = torch.float32 if key.endswith(("running_mean", "running_var")) else torch.float16
            assert value.dtype == want, key
    assert Path(builtin.BUILTIN.path).stat().st_size < 11e6


def test_shipped_file_records_its_training_and_licences():
    manifest = builtin.read_manifest()
    assert manifest["params"] == "lite" and "train_lite" in manifest["recipe"]
    assert {"weights", "training data"} <= set(manifest["licence"])
    log = Path(builtin.BUILTIN.directory) / manifest["training_log"].split()[0]
    rows = log.read_text().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 1 + 12
    first, last = (float(r.split(",")[3]) for r in (rows[1], rows[-1]))
    assert last < first  # the loss went down


@pytest.mark.torch_threads(2)
def test_the_builtin_model_really_tracks(sequences_dir):
    """The shipped model, chosen with no weights and its own parameters, follows the target of
    a validation clip (seeded random weights drift off within a few frames: mean IoU < 0.2)."""
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.evaluation.metrics import iou_xywh
    from stmtrack_plugin.tracking.tracker import STMTracker
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    seq = load_otb_sequence(str(sequences_dir / "Car4"))
    params = load_parameters(builtin.choose_params(None, None, env={}))
    assert params.name == "lite"
    tracker = STMTracker.from_params(params, builtin.builtin_weights_path())
    tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
    boxes = [tracker.track(read_image_bgr(f)).box for f in seq.frames[1:60]]
    ious = iou_xywh(np.asarray(boxes, dtype=float), seq.groundtruth[1:60])
    assert ious.mean() > 0.6 and ious.min() > 0.3, (ious.mean(), ious.min())


@pytest.mark.slow
def test_a_built_wheel_ships_the_builtin_files(tmp_path):
    """Build a wheel from a copy of the source tree with placeholder built-in files (the copy
    only; never the checkout) and check the wheel holds them (~20 s)."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache"))
    weights_dir = src / "stmtrack_plugin" / "weights"
    for name in (builtin.BUILTIN.file_name, builtin.BUILTIN.manifest_name):
        (weights_dir / name).write_bytes(b"placeholder")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("stmtrack_plugin-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (builtin.BUILTIN.file_name, builtin.BUILTIN.manifest_name, "__init__.py"):
        assert f"stmtrack_plugin/weights/{name}" in names
    assert "stmtrack_plugin/parameters/lite.py" in names
