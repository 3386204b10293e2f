"""What a pytracking checkout needs besides our shims, checked (and ``local.py`` written) by
``stmtrack-pytracking install``.

* ``pytracking/evaluation/local.py`` (``local_env_settings()``: dataset and results paths) and
  ``ltr/admin/local.py`` (``EnvironmentSettings``). A fresh clone has neither; pytracking makes
  them with its ``create_default_local_file()``, and *any* error importing them makes it overwrite
  them with that template, so the check imports ``local.py`` directly (in a subprocess), never
  through pytracking's ``env_settings()``.
* Python packages its evaluation and analysis import: :data:`PYTRACKING_DEPS`.
* Its ``otb`` dataset is a hard-coded list of all 100 OTB-100 sequences
  (``pytracking/evaluation/otbdataset.py``) and loads every one, even with ``--sequence``: the
  folders missing under ``otb_path`` are listed (read from that file, without importing it).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

from stmtrack_plugin.utils.io import atomic_write_text

PT_LOCAL = os.path.join("pytracking", "evaluation", "local.py")
LTR_LOCAL = os.path.join("ltr", "admin", "local.py")

#: (module, how to get it): what pytracking's evaluation (tracker.py imports visdom; its data
#: loaders jpeg4py, pandas, scipy) and analysis (plot_results imports tikzplotlib) import
PYTRACKING_DEPS = (
    ("pandas", "pip install pandas"),
    ("scipy", "pip install scipy"),
    ("jpeg4py", "pip install jpeg4py"),
    ("visdom", 'pip install "setuptools<81" wheel && pip install --no-build-isolation visdom'),
    ("tikzplotlib", "analysis only; tikzplotlib 0.10.1 fails on matplotlib >= 3.8: stub it "
                    "before importing pytracking.analysis: sys.modules.setdefault('tikzplotlib', "
                    "types.ModuleType('tikzplotlib'))"),
)


def missing_dependencies(deps=None) -> List[str]:
    """One line per module of ``deps`` (default :data:`PYTRACKING_DEPS`) that is not installed."""
    deps = PYTRACKING_DEPS if deps is None else deps
    return [f"{name} ({how})" for name, how in deps if importlib.util.find_spec(name) is None]


def local_py_text(paths: Dict[str, str]) -> str:
    """``pytracking/evaluation/local.py`` setting ``paths`` on pytracking's ``EnvSettings``."""
    from stmtrack_plugin.adapters.pytracking_install import MARKER

    lines = [MARKER, "from pytracking.evaluation.environment import EnvSettings", "", "",
             "def local_env_settings():",
             "    settings = EnvSettings()  # pytracking's defaults for everything not set here"]
    lines += [f"    settings.{key} = {value!r}" for key, value in sorted(paths.items())]
    lines += ["    return settings", ""]
    return "\n".join(lines)


def write_local_files(checkout: str, paths: Dict[str, str]) -> Tuple[List[str], List[str]]:
    """Write the ``local.py`` files that are missing; returns (written paths, notes).

    A new ``pytracking/evaluation/local.py`` sets ``paths`` (``results_path`` defaults to
    ``<checkout>/pytracking/tracking_results``). An existing one is never changed (a note says
    which requested paths to set by hand); ``ltr/admin/local.py`` comes from the checkout's own
    ``ltr.admin.environment.create_default_local_file()``.
    """
    written, notes = [], []
    pt_local = os.path.join(checkout, PT_LOCAL)
    if not os.path.isfile(pt_local):
        default = {"results_path": os.path.join(checkout, "pytracking", "tracking_results")}
        atomic_write_text(pt_local, local_py_text({**default, **paths}))
        written.append(pt_local)
    elif paths:
        notes.append(f"{pt_local} exists and was not changed; set there: "
                     + ", ".join(f"settings.{k} = {v!r}" for k, v in sorted(paths.items())))
    ltr_local = os.path.join(checkout, LTR_LOCAL)
    if not os.path.isfile(ltr_local):
        if not os.path.isfile(os.path.join(checkout, "ltr", "admin", "environment.py")):
            notes.append(f"no ltr/admin/environment.py in {checkout}: not a full pytracking "
                         "checkout (ltr is needed to load networks)")
        else:
            # older checkouts: create_default_local_file(path); newer: no argument
            err = _run(checkout, "import inspect, os; from ltr.admin import environment as e; "
                                 "f = e.create_default_local_file; "
                                 "f(os.path.join(os.path.dirname(e.__file__), 'local.py')) "
                                 "if inspect.signature(f).parameters else f()")[1]
            if os.path.isfile(ltr_local):
                written.append(ltr_local)
            else:
                notes.append(f"could not create {ltr_local}: {err}")
    return written, notes


def _run(checkout: str, code: str) -> Tuple[Optional[str], str]:
    """Run ``code`` with ``checkout`` first on sys.path; (stdout or None on failure, error)."""
    prog = f"import sys; sys.path.insert(0, {checkout!r}); {code}"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    res = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env,
                         cwd=checkout, timeout=300)
    if res.returncode != 0:
        lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
        return None, lines[-1] if lines else f"exit status {res.returncode}"
    return res.stdout, ""


def read_local_settings(checkout: str) -> Tuple[Optional[dict], str]:
    """String attributes of ``local_env_settings()`` (imported directly); (None, error) if it
    cannot be imported or run."""
    out, err = _run(checkout, "import json; from pytracking.evaluation.local import "
                              "local_env_settings as f; s = f(); print(json.dumps({k: v for k, v "
                              "in vars(s).items() if isinstance(v, str)}))")
    return (json.loads(out.strip().splitlines()[-1]), "") if out else (None, err)


def otb_sequence_infos(checkout: str) -> List[dict]:
    """The sequence list of ``pytracking/evaluation/otbdataset.py`` (``name``, ``path``,
    ``anno_path``, ...), read from the source without importing it; [] if not found."""
    path = os.path.join(checkout, "pytracking", "evaluation", "otbdataset.py")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "_get_sequence_info_list":
            for sub in ast.walk(node):
                if isinstance(sub, ast.List):
                    return ast.literal_eval(sub)
    return []


def missing_otb(otb_path: str, infos: List[dict]) -> List[str]:
    """Names of the sequences whose frame folder or annotation file is not under ``otb_path``."""
    return [i["name"] for i in infos if not os.path.isdir(os.path.join(otb_path, i["path"]))
            or not os.path.isfile(os.path.join(otb_path, i["anno_path"]))]


def check_checkout(checkout: str, deps=None) -> List[str]:
    """Problems that would stop ``run_tracker.py stmtrack ... --dataset_name otb``: missing
    packages, a ``local.py`` that fails, empty results / OTB paths, missing OTB sequences."""
    problems = [f"missing Python package: {m}" for m in missing_dependencies(deps)]
    settings, err = read_local_settings(checkout)
    if settings is None:
        problems.append(f"{os.path.join(checkout, PT_LOCAL)} does not load: {err} (pytracking "
                        "would overwrite it with its template)")
        return problems
    if not settings.get("results_path"):
        problems.append("local.py: results_path is not set")
    otb = settings.get("otb_path", "")
    infos = otb_sequence_infos(checkout)
    if not otb or not os.path.isdir(otb):
        problems.append(f"local.py: otb_path {otb!r} is not a folder (--set otb_path=DIR)")
    elif infos:
        gone = missing_otb(otb, infos)
        if gone:
            shown = ", ".join(gone[:8]) + (", ..." if len(gone) > 8 else "")
            problems.append(f"OTB: {len(gone)} of {len(infos)} sequences missing under {otb} "
                            f"({shown}); pytracking's otb dataset loads all of them, even for "
                            "--sequence: get the full OTB-100")
    return problems
