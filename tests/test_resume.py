"""Resuming never mixes runs: provenance records beside results, --overwrite, unwritable output
folders, and worker processes that exit with their driver."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stmtrack_plugin.adapters import provenance
from stmtrack_plugin.adapters.layouts import OPELayout
from stmtrack_plugin.adapters.runner import Job, run_jobs
from stmtrack_plugin.cli.main import main as stmtrack_main
from stmtrack_plugin.utils.io import NotWritableError
from stmtrack_plugin.utils.sequences import load_otb_sequence
from toolkit_helpers import (TINY_PARAMS, make_crashing_tracker, make_template_tracker,
                             served_tracker, truncated_otb_copy)

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def clips(sequences_dir):
    out = {}
    for name in ("Crossing", "bag"):
        seq = load_otb_sequence(str(sequences_dir / name))
        out[name] = (tuple(seq.frames[:6]), seq.groundtruth[:6])
    return out


def _jobs(clips, root):
    layout = OPELayout(str(root))
    return [Job(name, frames, gt, layout) for name, (frames, gt) in clips.items()]


def test_runner_refuses_results_of_another_run_and_overwrite_replaces_them(tmp_path, clips):
    jobs = _jobs(clips, tmp_path / "res")
    assert run_jobs(make_template_tracker, jobs, progress=False, settings={"max_frames": 6}).ok
    again = run_jobs(make_template_tracker, jobs, progress=False, settings={"max_frames": 6})
    assert again.finished == [] and sorted(again.skipped) == ["Crossing", "bag"]
    record = json.loads((tmp_path / "res" / ".stmtrack" / "bag.json").read_text())
    assert record["max_frames"] == 6 and record["protocol"] == "ope"

    with pytest.raises(provenance.ResultMismatch) as info:
        run_jobs(make_template_tracker, jobs, progress=False, settings={"max_frames": 4})
    message = str(info.value)
    assert "frame limit (--max-frames): 6 there, 4 now" in message
    assert "Crossing, bag" in message and "--overwrite" in message
    with pytest.raises(provenance.ResultMismatch, match="tracker"):  # another tracker
        run_jobs(make_crashing_tracker, jobs, progress=False, settings={"max_frames": 6})

    redo = run_jobs(make_template_tracker, jobs, progress=False, settings={"max_frames": 4},
                    overwrite=True)
    assert sorted(redo.finished) == ["Crossing", "bag"] and redo.skipped == []
    record = json.loads((tmp_path / "res" / ".stmtrack" / "bag.json").read_text())
    assert record["max_frames"] == 4


def test_results_without_a_record_are_not_reused(tmp_path, clips):
    jobs = _jobs(clips, tmp_path / "res")
    run_jobs(make_template_tracker, jobs, progress=False)
    os.remove(tmp_path / "res" / ".stmtrack" / "Crossing.json")  # as an older version left it
    with pytest.raises(provenance.ResultMismatch, match="no record of what produced it"):
        run_jobs(make_template_tracker, jobs, progress=False)
    (tmp_path / "res" / ".stmtrack" / "bag.json").write_text("{trunc")
    with pytest.raises(provenance.ResultMismatch, match="bag: its record .* is unreadable"):
        run_jobs(make_template_tracker, jobs, progress=False)
    summary = run_jobs(make_template_tracker, jobs, progress=False, overwrite=True)
    assert sorted(summary.finished) == ["Crossing", "bag"] and summary.skipped == []
    assert run_jobs(make_template_tracker, jobs, progress=False).skipped == ["Crossing", "bag"]


def test_weights_are_hashed_once_per_run_not_per_sequence(tmp_path, clips, monkeypatch):
    tracker = served_tracker(tmp_path)
    calls = []
    real = provenance.hashlib.sha256
    monkeypatch.setattr(provenance.hashlib, "sha256", lambda: calls.append(1) or real())
    provenance._SHA_CACHE.clear()
    summary = run_jobs(tracker.spec, _jobs(clips, tmp_path / "res"), progress=False)
    assert summary.ok and len(summary.finished) == 2 and len(calls) == 1
    record = json.loads((tmp_path / "res" / ".stmtrack" / "bag.json").read_text())
    expected = real(Path(tracker.weights).read_bytes()).hexdigest()
    assert record["weights_sha256"] == expected and record["params.crop_size"] == 129


def test_peer_records_that_it_has_no_weights():
    from stmtrack_plugin.adapters.factory import TrackerSpec

    record = TrackerSpec(kind="mil").provenance()
    assert record["tracker"] == "mil" and record["weights_sha256"] is None


@pytest.fixture()
def otb_root(tmp_path, sequences_dir):
    root = tmp_path / "OTB100"
    for name in ("Crossing", "Jogging-1", "bag"):
        truncated_otb_copy(sequences_dir / name, root, 5)
    return root


def test_eval_rerun_with_other_weights_parameters_or_frame_limit_refuses(tmp_path, otb_root,
                                                                        capsys):
    tracker = served_tracker(tmp_path)
    base = ["eval", "--toolkit", "pysot", "--dataset", "OTB100", "--root", str(otb_root),
            "--results", str(tmp_path / "results"), "--quiet", "--threads", "1",
            "--device", "cpu"]
    ours = ["--params", tracker.params, "--weights", tracker.weights]
    assert stmtrack_main(base + ours) == 0
    assert "3 sequence(s) run, 0 skipped" in capsys.readouterr().out
    assert stmtrack_main(base + ours) == 0
    assert "0 sequence(s) run, 3 skipped" in capsys.readouterr().out

    other_weights = tmp_path / "other.pth"
    shutil.copy(tracker.weights, other_weights)  # the same bytes elsewhere: still resumes
    assert stmtrack_main(base + ["--params", tracker.params, "--weights",
                                 str(other_weights)]) == 0
    assert "0 sequence(s) run, 3 skipped" in capsys.readouterr().out
    from stmtrack_plugin.config import load_parameters
    from stmtrack_plugin.model import build_model, save_checkpoint

    torch.manual_seed(1)
    save_checkpoint(build_model(load_parameters(tracker.params).model), str(other_weights),
                    epoch=0)
    assert stmtrack_main(base + ["--params", tracker.params, "--weights",
                                 str(other_weights)]) == 2
    err = capsys.readouterr().err
    assert "weights sha256" in err and "--overwrite" in err and "Crossing" in err

    other_params = tmp_path / "tiny_wi.py"
    other_params.write_text(TINY_PARAMS.replace('name="tiny",',
                                                'name="tiny", window_influence=0.5,'))
    assert stmtrack_main(base + ["--params", str(other_params), "--weights",
                                 tracker.weights]) == 2
    err = capsys.readouterr().err
    assert "parameter window_influence" in err and "weights sha256" not in err

    assert stmtrack_main(base + ours + ["--max-frames", "3"]) == 2
    assert "frame limit (--max-frames): null there, 3 now" in capsys.readouterr().err

    assert stmtrack_main(base + ours + ["--max-frames", "3", "--overwrite"]) == 0
    assert "3 sequence(s) run, 0 skipped" in capsys.readouterr().out
    result = tmp_path / "results" / "OTB100" / "STMTrack" / "bag.txt"
    assert len(result.read_text().splitlines()) == 3
    # pysot-toolkit lists tracker folders with glob('*'): the record folder is hidden
    assert sorted(os.listdir(result.parent)) == [".stmtrack", "Crossing.txt", "Jogging-1.txt",
                                                 "bag.txt", "times"]


def test_unwritable_results_fail_before_tracking(tmp_path, clips):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    built = []

    def factory():
        built.append(1)
        return make_template_tracker()

    with pytest.raises(NotWritableError, match="cannot write the results to"):
        run_jobs(factory, _jobs(clips, blocker / "res"), progress=False)
    assert built == []


def test_eval_reports_an_unwritable_results_folder(tmp_path, otb_root, capsys):
    tracker = served_tracker(tmp_path)
    (tmp_path / "ro").write_text("")
    argv = ["eval", "--toolkit", "pysot", "--dataset", "OTB100", "--root", str(otb_root),
            "--results", str(tmp_path / "ro" / "results"), "--quiet", *tracker.cli_args]
    assert stmtrack_main(argv) == 2
    assert "cannot write the results to" in capsys.readouterr().err


WORKER_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from stmtrack_plugin.adapters.layouts import OPELayout
from stmtrack_plugin.adapters.runner import Job, run_jobs
from stmtrack_plugin.utils.sequences import load_otb_sequence
from toolkit_helpers import PidRecordingTracker

if __name__ == "__main__":
    seq = load_otb_sequence({seq!r})
    jobs = [Job(f"s{{i}}", tuple(seq.frames[:3]), seq.groundtruth[:3], OPELayout({out!r}))
            for i in range(4)]
    run_jobs(PidRecordingTracker({pids!r}), jobs, workers=2, progress=False,
             threads_per_worker=1)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie is gone
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_exit_when_the_driver_is_killed(tmp_path, sequences_dir):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = tmp_path / "drive.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(TESTS), seq=str(sequences_dir / "bag"),
                                           out=str(tmp_path / "res"), pids=str(pids)))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    driver = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.time() + 120
        while len(os.listdir(pids)) < 2 and time.time() < deadline:
            time.sleep(0.2)
        workers = [int(p) for p in os.listdir(pids)]
        assert len(workers) == 2, "the workers did not start"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.time() + 10
        while any(_alive(p) for p in workers) and time.time() < deadline:
            time.sleep(0.2)
        assert not [p for p in workers if _alive(p)], "workers outlived their driver"
    finally:
        if driver.poll() is None:
            driver.kill()
        for pid in [int(p) for p in os.listdir(pids)]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
