"""Thread defaults: passive OpenMP waiting and threads = free cores (stmtrack_plugin.threads)."""
import os
import subprocess
import sys

import pytest

from stmtrack_plugin.threads import choose_threads, openmp_env_defaults


def test_threads_are_the_free_cores_shared_by_the_workers():
    assert choose_threads(None, 2, 6.3) == 1  # oversubscribed 2-core box: never 2
    assert choose_threads(None, 2, 0.4) == 2  # idle
    assert choose_threads(None, 16, 0.0) == 16
    assert choose_threads(None, 16, 4.9) == 12  # floor(load) cores are taken
    assert choose_threads(None, 16, 4.0, workers=3) == 4
    assert choose_threads(None, 4, 0.0, workers=8) == 1  # at least one each
    assert choose_threads(None, 8, float("nan")) == 8  # no load figure: all usable cores
    assert choose_threads(3, 2, 50.0) == 3  # an explicit request wins
    with pytest.raises(ValueError, match="--threads must be >= 1"):
        choose_threads(0, 2, 0.0)


def test_passive_wait_policy_unless_the_user_chose_one():
    assert openmp_env_defaults({}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert openmp_env_defaults({"OMP_WAIT_POLICY": ""}) == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert openmp_env_defaults({"OMP_WAIT_POLICY": "ACTIVE"}) == {}


def test_console_command_sets_the_policy_before_torch_loads():
    code = ("import sys\n"
            "from stmtrack_plugin.cli import main as m\n"
            "assert 'torch' not in sys.modules\n"
            "sys.argv = ['stmtrack', 'params']\n"
            "m.main()\n"
            "import os; print('policy', os.environ['OMP_WAIT_POLICY'])\n")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "policy PASSIVE" in out.stdout
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert "policy ACTIVE" in out.stdout


def test_runner_defaults_to_the_free_cores(monkeypatch, tmp_path, sequences_dir):
    import torch

    from stmtrack_plugin.adapters.layouts import OPELayout
    from stmtrack_plugin.adapters.runner import Job, run_jobs
    from stmtrack_plugin.utils.sequences import load_otb_sequence
    from toolkit_helpers import make_template_tracker

    monkeypatch.setattr(os, "getloadavg", lambda: (7.5, 7.5, 7.5))
    seen = []

    def factory():
        seen.append(torch.get_num_threads())
        return make_template_tracker()

    torch.set_num_threads(2)
    seq = load_otb_sequence(str(sequences_dir / "Crossing"))
    job = Job("Crossing", tuple(seq.frames[:3]), seq.groundtruth[:3], OPELayout(str(tmp_path)))
    assert run_jobs(factory, [job], progress=False).ok
    assert seen == [1] and torch.get_num_threads() == 2  # restored afterwards
