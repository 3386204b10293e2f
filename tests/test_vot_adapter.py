"""VOT toolkit integration: TraX server loop, workspace preparation, `vot evaluate` end to end."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from stmtrack_plugin.adapters.layouts import read_reset_file
from stmtrack_plugin.adapters.protocols import init_box, run_reset
from stmtrack_plugin.adapters import vot_trax
from stmtrack_plugin.adapters.vot_trax import Request, region_to_box, serve
from stmtrack_plugin.adapters.vot_workspace import WorkspaceOptions, prepare_workspace
from stmtrack_plugin.utils.sequences import load_otb_sequence
from toolkit_helpers import TemplateTracker, one_thread


class FakeChannel:
    """Replays requests and records replies, like the toolkit's TraX client would."""

    def __init__(self, requests):
        self.requests = list(requests)
        self.replies = []

    def wait(self):
        return self.requests.pop(0)

    def reply(self, box, confidence):
        self.replies.append((tuple(box), confidence))

    def close(self, reason=None):
        self.closed = (reason,)


class CountingTracker(TemplateTracker):
    inits = 0

    def initialize(self, image, box):
        CountingTracker.inits += 1
        super().initialize(image, box)


def test_region_to_box_accepts_rectangle_polygon_and_mask():
    trax = pytest.importorskip("trax")
    assert region_to_box(trax.Rectangle.create(1.5, 2, 30, 40)) == (1.5, 2.0, 30.0, 40.0)
    poly = trax.Polygon.create([(10.0, 20.0), (50.0, 25.0), (45.0, 70.0), (5.0, 60.0)])
    assert region_to_box(poly, "bounds") == pytest.approx((5.0, 20.0, 45.0, 50.0))
    # default: the authors' VOT tester (area-preserving box, x = cx - w/2)
    flat = [10.0, 20.0, 50.0, 25.0, 45.0, 70.0, 5.0, 60.0]
    assert region_to_box(poly) == pytest.approx(init_box(flat, "stmtrack"))
    assert region_to_box(poly, "pysot") == pytest.approx(init_box(flat, "pysot"))
    mask = np.zeros((20, 30), np.uint8)
    mask[5:9, 10:16] = 1
    assert region_to_box(trax.Mask.create(mask)) == (10.0, 5.0, 6.0, 4.0)


def test_serve_handles_repeated_initialize_in_one_process(sequences_dir):
    frames = load_otb_sequence(str(sequences_dir / "Crossing")).frames[:6]
    box = (204.0, 150.0, 17.0, 50.0)
    reqs = [Request("initialize", frames[0], box), Request("frame", frames[1]),
            Request("frame", frames[2]), Request("initialize", frames[3], box),
            Request("frame", frames[4]), Request("quit")]
    channel = FakeChannel(reqs)
    CountingTracker.inits = 0
    assert serve(channel, CountingTracker()) == 2
    assert CountingTracker.inits == 2
    assert channel.replies[0] == (box, 1.0) and channel.replies[3] == (box, 1.0)
    assert len(channel.replies) == 5
    assert all(0.0 <= conf <= 1.0 for _, conf in channel.replies)


def test_serve_rejects_frame_before_initialize(sequences_dir):
    frame = load_otb_sequence(str(sequences_dir / "Crossing")).frames[0]
    with pytest.raises(RuntimeError, match="before any initialize"):
        serve(FakeChannel([Request("frame", frame)]), TemplateTracker())


def test_prepare_workspace_converts_otb_to_vot_layout(tmp_path, sequences_dir):
    opts = WorkspaceOptions(params="vot2018", weights=None, max_frames=10, peers=("mil",),
                            eao_interval=(5, 8))
    names = prepare_workspace(str(tmp_path), str(sequences_dir), opts, ["Crossing"])
    assert names == ["Crossing"]
    seq = tmp_path / "sequences" / "Crossing"
    assert (tmp_path / "sequences" / "list.txt").read_text() == "Crossing\n"
    assert len(os.listdir(seq / "color")) == 10
    meta = (seq / "sequence").read_text()
    assert "channels.color=color/%08d.jpg" in meta and "length=10" in meta
    gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
    src = np.loadtxt(sequences_dir / "Crossing" / "groundtruth_rect.txt", delimiter=",")[:10]
    assert np.allclose(gt, src - [1, 1, 0, 0])  # OTB 1-based -> VOT 0-based
    ini = (tmp_path / "trackers.ini").read_text()
    assert "[stmtrack]" in ini and "command = stmtrack_plugin.vot_trax" in ini
    assert "timeout = 300" in ini and "env_STMTRACK_PARAMS = vot2018" in ini
    assert "[mil]" in ini and "env_STMTRACK_TRACKER = mil" in ini
    assert "stack: ./stack.yaml" in (tmp_path / "config.yaml").read_text()
    assert "low: 5" in (tmp_path / "stack.yaml").read_text()


def test_workspace_warns_without_weights_and_for_short_sequences(tmp_path, sequences_dir,
                                                                monkeypatch, capsys):
    from stmtrack_plugin.cli.main import main as stmtrack_main

    from stmtrack_plugin import weights as builtin

    monkeypatch.delenv("STMTRACK_WEIGHTS", raising=False)
    empty = tmp_path / "no_builtin"
    empty.mkdir()
    monkeypatch.setattr(builtin, "BUILTIN", builtin.BuiltinModel(folder=str(empty)))
    base = ["vot-workspace", "--sequences", str(sequences_dir), "--names", "Crossing", "Couple",
            "--max-frames", "30"]
    assert stmtrack_main(base[:1] + [str(tmp_path / "a")] + base[1:]) == 0
    err = capsys.readouterr().err
    assert "no weights" in err and "Unable to connect" in err and "--weights FILE" in err
    assert "EAO will be NaN: the longest sequence has 30 frames" in err
    assert "--eao-interval 5 29" in err
    weights = tmp_path / "w.pkl"
    weights.write_bytes(b"x")
    assert stmtrack_main(base[:1] + [str(tmp_path / "b")] + base[1:] + [
        "--weights", str(weights), "--eao-interval", "5", "25"]) == 0
    assert capsys.readouterr().err == ""
    assert stmtrack_main(base[:1] + [str(tmp_path / "c")] + base[1:] + [
        "--weights", str(weights), "--stack", "vot2018/shortterm"]) == 0
    err = capsys.readouterr().err
    assert "low bound 100 (100-356)" in err and "drop --stack" in err
    monkeypatch.setenv("STMTRACK_WEIGHTS", str(weights))
    assert stmtrack_main(base[:1] + [str(tmp_path / "d")] + base[1:] + [
        "--eao-interval", "5", "30"]) == 0
    assert "2 sequence(s) have no more frames than the EAO interval's high bound 30" in \
        capsys.readouterr().err


def _vot(args, cwd, env):
    vot = shutil.which("vot", path=os.path.dirname(sys.executable) + os.pathsep
                       + os.environ.get("PATH", ""))
    cmd = [vot] if vot else [sys.executable, "-m", "vot"]
    return subprocess.run(cmd + args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.timeout(240)
def test_vot_evaluate_and_analysis_match_the_tracker(tmp_path, sequences_dir, vot_tracker):
    """`vot evaluate` + `vot analysis` through the workspace command; boxes = direct run."""
    pytest.importorskip("vot")
    ws = tmp_path / "ws"
    opts = WorkspaceOptions(params=vot_tracker.params, weights=vot_tracker.weights,
                            max_frames=30, eao_interval=(5, 25), repetitions=1, timeout=120)
    prepare_workspace(str(ws), str(sequences_dir), opts, ["Crossing", "bag"])
    env = dict(os.environ, VOT_RESULTS_BINARY="0", **vot_tracker.env)
    res = _vot(["evaluate", "stmtrack"], ws, env)
    assert res.returncode == 0, res.stdout + res.stderr
    res = _vot(["analysis", "--name", "a1"], ws, env)
    assert res.returncode == 0, res.stdout + res.stderr
    analysis = json.loads((ws / "analysis" / "a1.json").read_text())
    assert set(analysis["sequences"]) == {"Crossing", "bag"}
    accuracy = analysis["results"]["baseline"]["results"][0][0][0]
    assert 0.0 < accuracy <= 1.0

    tracker = vot_tracker.build()
    for name in ("Crossing", "bag"):
        seq_dir = ws / "sequences" / name
        frames = sorted(str(p) for p in (seq_dir / "color").iterdir())
        gt = np.loadtxt(seq_dir / "groundtruth.txt", delimiter=",")
        vot_entries = read_reset_file(
            str(ws / "results" / "stmtrack" / "baseline" / name / f"{name}_001.txt"))
        with one_thread():
            direct = run_reset(tracker, frames, gt, gt).entries
        assert len(vot_entries) == len(direct) == 30
        # same protocol both ways: identical codes (1 init, 2 failure, 0 skipped) and boxes,
        # re-initialisations after failures included (float32 TraX transport: 2e-3 px)
        assert [e if isinstance(e, int) else "box" for e in vot_entries] == \
            [e if isinstance(e, int) else "box" for e in direct], name
        for got, want in zip(vot_entries, direct):
            if not isinstance(want, int):
                assert np.allclose(got, want, atol=2e-3), (name, got, want)
        conf = (ws / "results" / "stmtrack" / "baseline" / name /
                f"{name}_001_confidence.value").read_text().splitlines()
        scores = [float(c) for c in conf if c.strip()]
        assert scores and all(0.0 <= c <= 1.0 for c in scores)
        unsup = read_reset_file(
            str(ws / "results" / "stmtrack" / "unsupervised" / name / f"{name}_001.txt"))
        assert len(unsup) == 30


@pytest.fixture(scope="module")
def vot_tracker(tmp_path_factory, shared_dir):
    from toolkit_helpers import served_tracker

    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


def test_empty_regions_are_refused_before_the_tracker():
    trax = pytest.importorskip("trax")
    with pytest.raises(ValueError, match="empty or invalid initialisation region"):
        region_to_box(trax.Rectangle.create(10, 10, 0, 0))
    flat = trax.Polygon.create([(5.0, 5.0), (5.0, 5.0), (5.0, 5.0)])
    with pytest.raises(ValueError, match="empty or invalid initialisation region"):
        region_to_box(flat, "bounds")
    assert region_to_box(flat) == (4.5, 4.5, 1.0, 1.0)  # the authors' rule: +1 px, faithful
    with pytest.raises(ValueError, match="mask is empty"):
        region_to_box(trax.Mask.create(np.zeros((0, 0), np.uint8)))


def test_session_error_is_sent_as_the_quit_reason(sequences_dir, capsys):
    frame = load_otb_sequence(str(sequences_dir / "Crossing")).frames[0]
    channel = FakeChannel([Request("frame", frame)])
    assert vot_trax.run_session(channel, TemplateTracker()) == 1
    reason = channel.closed[0]
    assert "RuntimeError" in reason and "frame request before any initialize request" in reason
    assert reason in capsys.readouterr().err
    channel = FakeChannel([Request("initialize", frame, (204.0, 150.0, 17.0, 50.0)),
                           Request("quit")])
    assert vot_trax.run_session(channel, TemplateTracker()) == 0 and channel.closed == (None,)


def _trax_session(tmp_path, frame, region, server_args):
    """Start ``python -m stmtrack_plugin.vot_trax`` like the toolkit does; initialise once."""
    trax = pytest.importorskip("trax")
    from trax.client import Client
    from trax.image import FileImage

    proc = subprocess.Popen([sys.executable, "-m", "stmtrack_plugin.vot_trax", *server_args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, TRAX="1", OMP_NUM_THREADS="1"))
    try:
        client = Client((proc.stdin.fileno(), proc.stdout.fileno()), log=lambda _: None)
        try:
            client.initialize({"color": FileImage.create(frame)}, [(region(trax), {})], {})
            client.quit()
            message = None
        except trax.TraxException as exc:
            message = str(exc)
        proc.wait(timeout=120)
        return message, proc.returncode, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.timeout(240)
def test_trax_server_tells_the_toolkit_why_it_quits(tmp_path, sequences_dir):
    """Through vot-trax's own client (what the toolkit uses): the reason arrives with the quit."""
    from stmtrack_plugin.config import ModelConfig
    from stmtrack_plugin.model import build_model, save_checkpoint

    weights = tmp_path / "tiny.pkl"
    save_checkpoint(build_model(ModelConfig(width_mult=0.125, neck_channels=32,
                                            head_channels=32)), str(weights))
    params = tmp_path / "tiny_params.py"
    params.write_text("from stmtrack_plugin.config import load_parameters\n"
                      "def parameters():\n    return load_parameters('vot2018', crop_size=129)\n")
    frame = str(sequences_dir / "Crossing" / "img" / "0001.jpg")
    args = ["--params", str(params), "--weights", str(weights)]
    message, rc, err = _trax_session(tmp_path, frame,
                                     lambda trax: trax.Rectangle.create(0, 0, 1e20, 1e20), args)
    assert message.startswith("Server terminated the session: stmtrack: ValueError: box")
    assert "too large for the 360x240 frame" in message and rc == 1 and "too large" in err
    message, rc, _ = _trax_session(tmp_path, frame,
                                   lambda trax: trax.Rectangle.create(200, 150, 17, 50), args)
    assert message is None and rc == 0
    message, rc, _ = _trax_session(tmp_path, frame,
                                   lambda trax: trax.Rectangle.create(200, 150, 17, 50),
                                   ["--params", str(params), "--weights", str(tmp_path / "no.pkl")])
    assert "Server terminated the session: stmtrack: FileNotFoundError" in message
    assert "does not exist" in message and rc == 1
