"""The built-in model: an STMTrack-Lite checkpoint shipped inside the package (package data).

This folder holds ``stmtrack_lite0.pkl`` (EfficientNet-Lite0 trunk, trained by
``parameters/train_lite.py``) and its manifest ``stmtrack_lite0.json``::

    {"file": "stmtrack_lite0.pkl", "sha256": "<64 hex digits of the .pkl>",
     "params": "lite", "recipe": "train_lite", "scores": {...}, "licence": "..."}

``sha256`` and ``params`` are required; the rest is description. :func:`builtin_weights_path`
checks the file against the manifest's SHA-256 every time a process first uses it, so a
truncated or replaced file never loads silently.

Which weights a run uses (:func:`stmtrack_plugin.config.resolve_weights`): an explicit path,
else ``$STMTRACK_WEIGHTS``, else the built-in (with one notice on stderr per process).
Which parameter file a run uses when none is named (:func:`choose_params`): the one the
checkpoint's trunk calls for (:data:`PARAMS_FOR_BACKBONE`), else the caller's fallback.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Mapping, Optional

#: parameter file used when none is named, for checkpoints whose recorded trunk is not the
#: authors' GoogLeNet (their files, and every other trunk, use the caller's fallback)
PARAMS_FOR_BACKBONE = {"efficientnet_lite0": "lite"}


class BuiltinWeightsError(ValueError):
    """The built-in weights' manifest is unreadable or the file does not match it."""


@dataclass(frozen=True)
class BuiltinModel:
    """Where the built-in checkpoint and its manifest live (``folder`` None: this package)."""

    file_name: str = "stmtrack_lite0.pkl"
    manifest_name: str = "stmtrack_lite0.json"
    title: str = "STMTrack-Lite"
    folder: Optional[str] = None

    @property
    def directory(self) -> str:
        return self.folder or os.path.dirname(os.path.abspath(__file__))

    @property
    def path(self) -> str:
        return os.path.join(self.directory, self.file_name)

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.directory, self.manifest_name)


#: the model this package ships (read at call time, so tests can point it at a folder of theirs)
BUILTIN = BuiltinModel()

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def read_manifest(model: Optional[BuiltinModel] = None) -> dict:
    """The manifest as a dict; raises ``FileNotFoundError`` or :class:`BuiltinWeightsError`."""
    model = model or BUILTIN
    if not os.path.isfile(model.manifest_path):
        raise FileNotFoundError(f"the built-in weights' manifest is not installed: "
                                f"{model.manifest_path}")
    try:
        with open(model.manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuiltinWeightsError(f"cannot read the built-in weights' manifest "
                                  f"{model.manifest_path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise BuiltinWeightsError(f"{model.manifest_path} must hold a JSON object")
    sha = manifest.get("sha256")
    if not isinstance(sha, str) or not _SHA256.match(sha.lower()):
        raise BuiltinWeightsError(f"{model.manifest_path}: 'sha256' must be 64 hex digits, "
                                  f"got {sha!r}")
    params = manifest.get("params")
    if not isinstance(params, str) or not params:
        raise BuiltinWeightsError(f"{model.manifest_path}: 'params' must name a parameter file, "
                                  f"got {params!r}")
    return manifest


def builtin_weights_path(model: Optional[BuiltinModel] = None) -> str:
    """Path of the built-in checkpoint after checking it against its manifest's SHA-256.

    Raises ``FileNotFoundError`` when the file or the manifest is not installed and
    :class:`BuiltinWeightsError` naming both hashes when the file's SHA-256 differs from the
    manifest's (a corrupted or replaced install).
    """
    model = model or BUILTIN
    if not os.path.isfile(model.path):
        raise FileNotFoundError(
            f"no weights given and the built-in {model.title} weights are not installed "
            f"({model.path} is missing): pass --weights FILE or set $STMTRACK_WEIGHTS "
            "(see the README for the authors' released checkpoints)")
    expected = read_manifest(model)["sha256"].lower()
    from stmtrack_plugin.adapters.provenance import file_sha256  # cached per path, size, mtime

    actual = file_sha256(model.path)
    if actual != expected:
        raise BuiltinWeightsError(
            f"the built-in weights {model.path} are corrupted or were replaced: their SHA-256 is "
            f"{actual} but {model.manifest_name} records {expected}; reinstall stmtrack-plugin "
            "or pass --weights FILE")
    return model.path


def builtin_notice(model: Optional[BuiltinModel] = None) -> str:
    """The one-line stderr notice printed when a run falls back to the built-in weights."""
    model = model or BUILTIN
    sha = read_manifest(model)["sha256"].lower()
    return (f"stmtrack: no weights given, using the built-in {model.title} model "
            f"({model.file_name}, sha256 {sha[:12]}...); --weights PATH or $STMTRACK_WEIGHTS "
            "selects another checkpoint, e.g. the authors'")


def checkpoint_backbone(path: str) -> str:
    """The trunk a checkpoint records (``model_config.backbone``; the authors' files: googlenet).

    Read with ``weights_only=True``; memory-mapped when the file allows it, so the tensors are
    not read. Raises :class:`~stmtrack_plugin.model.CheckpointError` for an unreadable file.
    """
    import torch

    from stmtrack_plugin.model.checkpoint import _config_of, read_checkpoint

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # legacy (non-zip) files cannot be mapped; the full reader names problems
        ckpt = None
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get("model_config", {}), Mapping):
        ckpt = read_checkpoint(path, weights_only=True)
    if "model_config" not in ckpt:
        return "googlenet"
    return _config_of(ckpt, path).backbone


_NOTICE_SHOWN: set = set()  # built-in files whose notice this process has printed


def use_builtin(model: Optional[BuiltinModel] = None, stream=None) -> str:
    """:func:`builtin_weights_path`, printing :func:`builtin_notice` on stderr the first time in
    this process."""
    model = model or BUILTIN
    path = builtin_weights_path(model)
    if path not in _NOTICE_SHOWN:
        _NOTICE_SHOWN.add(path)
        print(builtin_notice(model), file=stream or sys.stderr, flush=True)
    return path


def choose_params(params: Optional[str], weights: Optional[str] = None,
                  fallback: str = "default", env: Optional[Mapping[str, str]] = None) -> str:
    """The parameter file of a run: ``params`` when named, else the one the weights call for.

    The weights are resolved as every run resolves them (path > ``$STMTRACK_WEIGHTS`` >
    built-in). The built-in model uses its manifest's ``params``; another checkpoint uses
    :data:`PARAMS_FOR_BACKBONE` of its recorded trunk, else ``fallback`` (the benchmark's own
    file, or ``default``). This is the one rule every entry point goes through.
    """
    if params:
        return params
    from stmtrack_plugin.config import choose_weights

    choice = choose_weights(weights, env)
    if choice.source == "builtin":
        return read_manifest()["params"]
    return PARAMS_FOR_BACKBONE.get(checkpoint_backbone(choice.path), fallback)
