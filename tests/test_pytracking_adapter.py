"""pytracking: shim installer, `run_tracker.py stmtrack <param>` and the no-change runner, on a
stand-in checkout reproducing pytracking's contract (see tests/pytracking_standin.py)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from pytracking_standin import make_standin
from stmtrack_plugin.adapters import pytracking_install as pti
from stmtrack_plugin.adapters.protocols import run_ope
from toolkit_helpers import one_thread, served_tracker, truncated_otb_copy

N = 15
SEQS = {"Crossing": N, "Couple": N}


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, shared_dir):
    return served_tracker(tmp_path_factory.mktemp("tracker"), shared_dir)


@pytest.fixture()
def checkout(tmp_path, sequences_dir):
    otb = tmp_path / "otb"
    for name in SEQS:
        truncated_otb_copy(sequences_dir / name, otb, N)
    return make_standin(tmp_path / "pytracking_repo", otb, tmp_path / "results", SEQS)


def _clean_env(extra=None):
    env = dict(os.environ, **(extra or {}))
    env.pop("PYTHONPATH", None)
    return env


def test_install_and_uninstall_only_touch_our_files(checkout):
    written = pti.install(str(checkout), ["default", "otb"])
    pkg = checkout / "pytracking"
    assert sorted(os.listdir(pkg / "parameter" / "stmtrack")) == ["__init__.py", "default.py",
                                                                   "otb.py"]
    assert (pkg / "tracker" / "stmtrack" / "__init__.py").read_text().startswith(pti.MARKER)
    assert len(written) == 4
    # the generated parameter file returns pytracking-style params naming our settings
    code = ("import sys; sys.path.insert(0, %r); "
            "from pytracking.parameter.stmtrack.otb import parameters; p = parameters(); "
            "print(type(p).__module__, p.stmtrack_params, p.get('missing', 7))" % str(checkout))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_clean_env())
    assert out.stdout.split() == ["pytracking.utils.params", "otb", "7"], out.stderr
    assert len(pti.uninstall(str(checkout))) == 2
    assert not (pkg / "tracker" / "stmtrack").exists()
    assert (pkg / "tracker" / "base" / "basetracker.py").exists()


def test_install_refuses_foreign_folder(checkout):
    (checkout / "pytracking" / "tracker" / "stmtrack").mkdir()
    (checkout / "pytracking" / "tracker" / "stmtrack" / "__init__.py").write_text("# mine\n")
    with pytest.raises(FileExistsError, match="not written by stmtrack-pytracking"):
        pti.install(str(checkout), ["default"])
    assert pti.main(["install", "--root", str(checkout / "nowhere")]) == 2


def test_run_tracker_through_the_shims(checkout, tracker, sequences_dir):
    """`python pytracking/run_tracker.py stmtrack <param> --dataset_name otb` in the checkout."""
    assert pti.main(["install", "--root", str(checkout), "--params", tracker.params,
                     "--weights", tracker.weights]) == 0
    param_name = os.path.splitext(os.path.basename(tracker.params))[0]
    res = subprocess.run([sys.executable, "pytracking/run_tracker.py", "stmtrack", param_name,
                          "--dataset_name", "otb"], cwd=checkout, capture_output=True,
                         text=True, env=_clean_env(tracker.env), timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out_dir = checkout.parent / "results" / "stmtrack" / param_name
    assert sorted(os.listdir(out_dir)) == ["Couple.txt", "Couple_time.txt", "Crossing.txt",
                                           "Crossing_time.txt"]
    # pytracking's int-cast results equal the tracker run directly (frames RGB->BGR round trip)
    otb = checkout.parent / "otb" / "Crossing"
    frames = sorted(str(p) for p in (otb / "img").iterdir())
    gt = np.loadtxt(otb / "groundtruth_rect.txt", delimiter=",")
    with one_thread():
        direct = run_ope(tracker.build(), frames, gt[0]).boxes
    written = np.loadtxt(out_dir / "Crossing.txt", delimiter="\t")
    assert np.array_equal(written, direct.astype(int))


def test_runner_without_changing_the_checkout(checkout, tracker):
    before = sorted(p for p in checkout.rglob("*") if "__pycache__" not in str(p))
    code = ("from stmtrack_plugin.adapters.pytracking_install import main; import sys; "
            "sys.exit(main(sys.argv[1:]))")
    res = subprocess.run([sys.executable, "-c", code, "run", "--root", str(checkout),
                          "--dataset", "otb", "--params", tracker.params, "--weights",
                          tracker.weights, "--sequence", "Couple", "--runid", "3"],
                         capture_output=True, text=True, env=_clean_env(tracker.env),
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    after = sorted(p for p in checkout.rglob("*") if "__pycache__" not in str(p))
    assert before == after
    param_name = os.path.splitext(os.path.basename(tracker.params))[0]
    out_dir = checkout.parent / "results" / "stmtrack" / f"{param_name}_003"
    boxes = np.loadtxt(out_dir / "Couple.txt", delimiter="\t")
    assert boxes.shape == (N, 4)


def test_parallel_targets_do_not_share_a_memory_bank(tracker, sequences_dir):
    """multiobj_mode 'parallel': deep copies of one tracker object (as pytracking's
    MultiObjectWrapper makes them) track two targets; each must behave as if alone."""
    import copy

    import cv2

    from stmtrack_plugin.adapters.pytracking import get_tracker_class, parameters

    seq = sequences_dir / "Crossing"
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
              for p in sorted((seq / "img").iterdir())[:5]]
    boxes = [[204.0, 150.0, 17.0, 50.0], [60.0, 40.0, 40.0, 30.0]]
    params = parameters(tracker.params, weights=tracker.weights, device="cpu")
    cls = get_tracker_class()
    base = cls(params)
    base.initialize_features()
    pair = [copy.deepcopy(base), copy.deepcopy(base)]
    with one_thread():
        for trk, box in zip(pair, boxes):
            trk.initialize(frames[0], {"init_bbox": box})
        together = [[], []]
        for frame in frames[1:]:
            for i, trk in enumerate(pair):
                together[i].append(trk.track(frame)["target_bbox"])
        alone = []
        for box in boxes:
            trk = cls(params)
            trk.initialize(frames[0], {"init_bbox": box})
            alone.append([trk.track(f)["target_bbox"] for f in frames[1:]])
    assert pair[0].stmtracker is not pair[1].stmtracker
    assert pair[0].stmtracker.memory is not pair[1].stmtracker.memory
    assert pair[0].stmtracker.model is pair[1].stmtracker.model  # the network is shared
    assert np.allclose(together, alone)


def test_install_writes_local_files_and_says_what_is_missing(tmp_path, sequences_dir, capsys,
                                                             monkeypatch):
    """A fresh clone has no local.py: install writes them; missing packages and OTB folders
    (pytracking's otb dataset loads all its sequences) are named."""
    from stmtrack_plugin.adapters import pytracking_setup

    otb = tmp_path / "otb"
    for name in SEQS:
        truncated_otb_copy(sequences_dir / name, otb, N)
    repo = make_standin(tmp_path / "repo", otb, tmp_path / "unused", dict(SEQS, Basketball=5),
                        local_files=False)
    monkeypatch.setattr(pytracking_setup, "PYTRACKING_DEPS",
                        (("json", "std"), ("no_such_module_for_stmtrack", "pip install it")))
    assert pti.main(["install", "--root", str(repo), "--params", "default", "--otb-path",
                     str(otb), "--results-path", str(tmp_path / "res")]) == 0
    out, err = capsys.readouterr()
    assert (repo / "ltr" / "admin" / "local.py").is_file()  # the checkout's own template
    assert f"wrote {repo / 'pytracking' / 'evaluation' / 'local.py'}" in out
    settings, _ = pytracking_setup.read_local_settings(str(repo))
    assert settings == {"otb_path": str(otb), "results_path": str(tmp_path / "res")}
    assert "missing Python package: no_such_module_for_stmtrack (pip install it)" in err
    assert "json" not in err
    assert "OTB: 1 of 3 sequences missing" in err and "(Basketball)" in err


def test_install_never_rewrites_an_existing_local_py(checkout, capsys, monkeypatch):
    from stmtrack_plugin.adapters import pytracking_setup

    monkeypatch.setattr(pytracking_setup, "PYTRACKING_DEPS", ())
    local = checkout / "pytracking" / "evaluation" / "local.py"
    assert pti.main(["install", "--root", str(checkout), "--params", "default"]) == 0
    assert "still missing" not in capsys.readouterr().err  # complete stand-in: nothing missing
    assert pti.main(["install", "--root", str(checkout), "--params", "default",
                     "--set", "got10k_path=/data/got10k"]) == 0
    assert "exists and was not changed; set there: settings.got10k_path = '/data/got10k'" in \
        capsys.readouterr().err
    local.write_text("from pytracking.evaluation.environment import EnvSettings\n"
                     "def local_env_settings():\n    return undefined_name\n")
    before = local.read_text()
    assert pti.main(["install", "--root", str(checkout), "--params", "default"]) == 0
    err = capsys.readouterr().err
    assert "local.py does not load: NameError: name 'undefined_name' is not defined" in err
    assert local.read_text() == before
