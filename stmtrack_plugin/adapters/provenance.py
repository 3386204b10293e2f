"""What produced a result file: a small JSON record kept beside it, checked on resume.

A record is a flat ``{key: JSON value}`` dict, e.g.::

    {"package_version": "0.1.0", "tracker": "stmtrack", "weights_sha256": "9f2c...",
     "params.window_influence": 0.21, "params.model.width_mult": 1.0, ..., "max_frames": null,
     "protocol": "ope", "init_rule": "stmtrack"}

``weights_sha256`` is the SHA-256 of the checkpoint's bytes (hashed once per file and
modification time, :func:`file_sha256`); it is None for trackers without weights (the OpenCV
peers but NanoTrack, whose ONNX files are hashed). Informational entries (keys starting with
``info.``: the weights path, the device) are recorded but never compared.

Records live in a hidden folder of the results folder, ``<layout root>/.stmtrack/<seq>.json``:
every toolkit reader (got10k reports, pysot-toolkit, ``stmtrack compare``) looks up result files
by sequence name or by patterns that a dot-folder never matches.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Dict, Optional

from stmtrack_plugin.utils.io import atomic_write_text

RECORD_DIR = ".stmtrack"
INFO_PREFIX = "info."


class ResultMismatch(ValueError):
    """Existing results were made with other weights, parameters or settings."""


_SHA_CACHE: Dict[tuple, str] = {}


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes, cached per (real path, size, modification time)."""
    path = os.path.realpath(path)
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def flatten(prefix: str, value) -> dict:
    """``{"prefix.field": value}`` for a (nested) dataclass or mapping; plain values as is."""
    if dataclasses.is_dataclass(value):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}", v))
        return out
    if isinstance(value, tuple):
        value = list(value)
    return {prefix: value}


def record_dir(layout_root: str) -> str:
    return os.path.join(layout_root, RECORD_DIR)


def record_file(layout_root: str, seq: str) -> str:
    return os.path.join(record_dir(layout_root), f"{seq}.json")


def write_record(layout_root: str, seq: str, record: dict) -> None:
    atomic_write_text(record_file(layout_root, seq), json.dumps(record, indent=1, sort_keys=True))


def read_record(layout_root: str, seq: str) -> Optional[dict]:
    """The stored record, or None when there is none (results of an older version)."""
    path = record_file(layout_root, seq)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}  # unreadable: never matches
    return data if isinstance(data, dict) else {}


def _short(value) -> str:
    if isinstance(value, str) and len(value) == 64:  # a sha256
        return value[:12] + "..."
    return json.dumps(value)


def differences(stored: Optional[dict], current: dict) -> list:
    """Human-readable differences between a stored record and the current run's (empty: same)."""
    if stored is None:
        return ["no record of what produced it (written by an older version)"]
    if not stored:
        return [f"its record ({RECORD_DIR}/<sequence>.json) is unreadable"]
    out = []
    for key in sorted(set(stored) | set(current)):
        if key.startswith(INFO_PREFIX):
            continue
        old, new = stored.get(key, "<absent>"), current.get(key, "<absent>")
        if old != new:
            name = {"weights_sha256": "weights sha256", "max_frames": "frame limit "
                    "(--max-frames)"}.get(key, key.replace("params.", "parameter ", 1))
            out.append(f"{name}: {_short(old)} there, {_short(new)} now")
    return out


def factory_record(factory) -> dict:
    """The record of a tracker factory: its ``provenance()`` (e.g. :class:`factory.TrackerSpec`),
    else the factory's qualified name (a plain callable, as in tests)."""
    from stmtrack_plugin import __version__

    describe = getattr(factory, "provenance", None)
    if callable(describe):
        return dict(describe())
    name = getattr(factory, "__qualname__", type(factory).__qualname__)
    return {"package_version": __version__,
            "tracker": f"{getattr(factory, '__module__', '?')}.{name}", "weights_sha256": None}


def normalised(record: dict) -> dict:
    """``record`` as it reads back from JSON (tuples become lists), so comparisons are exact."""
    return json.loads(json.dumps(record, sort_keys=True))
