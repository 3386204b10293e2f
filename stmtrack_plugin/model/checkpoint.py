"""Checkpoint I/O in the authors' layout, strict about keys and shapes.

File layout (the authors' ``epoch-19.pkl`` and what :func:`save_checkpoint` writes)::

    {"epoch": int, "model_state_dict": {key: tensor}, ["optimizer_state_dict": ...],
     ["model_config": {ModelConfig fields}]}

A bare state dict is accepted too, and an optional ``module.`` prefix (nn.DataParallel /
DistributedDataParallel) is stripped. The four unused SiamFC++ blocks may be present or absent.
Anything else that is missing, unexpected or wrongly shaped raises :class:`CheckpointError` naming
the keys (the authors' loader only warns and silently leaves such a model partly random).

Files are untrusted: nothing is sized or allocated from a file before it is validated. The
recorded ``model_config`` is checked field by field (:func:`validate_model_config`), the key and
shape check runs against a model built on the ``meta`` device (no memory), and tensors holding
NaN or infinite values are refused; only then is the real model built.
"""
from __future__ import annotations

import dataclasses
import math
import os
import pickle
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.model.stmtrack import LEGACY_BLOCKS, LEGACY_PREFIXES, STMTrack, build_model

_LIST_LIMIT = 12

#: (min, max) of the numeric ModelConfig fields recorded in a file. A field missing here (a new
#: one) still gets the type check and :data:`_DEFAULT_RANGE`; ModelConfig's own checks run after.
_CONFIG_RANGES = {
    "width_mult": (1e-3, 1.0),
    "neck_channels": (1, 4096),
    "head_channels": (1, 4096),
    "head_num_convs": (1, 64),
    "total_stride": (1, 64),
    "crop_pad": (0, 64),
    "bn_eps": (0.0, 1.0),
}
_DEFAULT_RANGE = (0, 4096)


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model."""


def _name_keys(keys) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f", ... ({len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else "")


def _unpickler_detail(message: str) -> str:
    """One line out of torch's multi-line load errors: the unpickler's own reason if given."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else line)
    return lines[0] if lines else message


def read_checkpoint(path: str, weights_only: bool = True) -> Dict[str, Any]:
    """Load a checkpoint file to CPU and return it as a dict with a ``model_state_dict``.

    ``weights_only=True`` (the default) refuses pickled code objects; pass False only for files
    you trust that hold other Python objects.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        detail = _unpickler_detail(str(exc))
        if weights_only and "Unsupported global" in detail:
            raise CheckpointError(
                f"cannot read checkpoint {path}: {detail}. It holds objects other than tensors; "
                "if you trust the file, load it with weights_only=False (--unsafe-load).") from None
        raise CheckpointError(f"cannot read checkpoint {path} (truncated, corrupt or not a torch "
                              f"file?): {detail}") from None
    except Exception as exc:  # torch raises many types for corrupt files (KeyError, EOFError, ...)
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or not a torch file?): "
                              f"{_unpickler_detail(str(exc))}") from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")
    if "model_state_dict" in obj:
        if not isinstance(obj["model_state_dict"], Mapping):
            raise CheckpointError(f"checkpoint {path}: 'model_state_dict' is not a mapping")
        return dict(obj)
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"model_state_dict": obj}
    raise CheckpointError(f"checkpoint {path} has neither 'model_state_dict' nor only tensors "
                          f"(top-level keys: {_name_keys(map(str, obj))})")


def strip_prefix(state_dict: Mapping[str, torch.Tensor], prefix: str = "module.") -> Dict[str, torch.Tensor]:
    """Remove ``prefix`` from every key if all keys carry it (DataParallel files)."""
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def check_finite(state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` naming the floating tensors that hold NaN or inf values."""
    bad = [k for k, v in state_dict.items()
           if torch.is_tensor(v) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{len(bad)} tensor(s) hold NaN or infinite values: {_name_keys(bad)}")


def validate_model_config(recorded: Any) -> ModelConfig:
    """A :class:`ModelConfig` from a file's ``model_config`` entry, or :class:`CheckpointError`.

    Table-driven from ModelConfig's fields: only known fields; each value must have the type of
    the field's default (an int is accepted for a float field; bools never pass as numbers);
    numbers must be finite and inside :data:`_CONFIG_RANGES` (:data:`_DEFAULT_RANGE` otherwise).
    """
    if not isinstance(recorded, Mapping):
        raise CheckpointError(f"model_config is a {type(recorded).__name__}, not a mapping")
    fields = {f.name: f for f in dataclasses.fields(ModelConfig)}
    unknown = [str(k) for k in recorded if k not in fields]
    if unknown:
        raise CheckpointError(f"unknown model_config field(s): {_name_keys(unknown)}")
    for name, value in recorded.items():
        default = fields[name].default
        kind = type(default)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise CheckpointError(f"model_config field {name!r} must be {kind.__name__}, got "
                                  f"{value!r} ({type(value).__name__})")
        if kind in (int, float):
            lo, hi = _CONFIG_RANGES.get(name, _DEFAULT_RANGE)
            if not (math.isfinite(value) and lo <= value <= hi):
                raise CheckpointError(f"model_config field {name!r} = {value!r} is outside "
                                      f"[{lo}, {hi}]")
    try:
        return ModelConfig(**recorded)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid model_config: {exc}") from None


def check_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` fits ``model`` exactly.

    Keys of the unused legacy blocks may be missing; nothing else may be.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict and not k.startswith(LEGACY_PREFIXES)]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k} (file {tuple(state_dict[k].shape)}, model {tuple(v.shape)})"
              for k, v in expected.items()
              if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_name_keys(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_name_keys(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} wrongly shaped tensor(s): {_name_keys(shapes)}")
    if problems:
        raise CheckpointError("checkpoint does not fit the model: " + "; ".join(problems))


def load_checkpoint(model: STMTrack, path: str, weights_only: bool = True) -> Dict[str, Any]:
    """Load weights into ``model`` strictly; return the file's other entries (epoch, ...)."""
    ckpt = read_checkpoint(path, weights_only=weights_only)
    state = strip_prefix(ckpt["model_state_dict"])
    try:
        check_state_dict(model, state)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    try:
        check_finite(state)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    model.load_state_dict(state, strict=False)
    return {k: v for k, v in ckpt.items() if k != "model_state_dict"}


def model_config_of(path: str, weights_only: bool = True) -> ModelConfig:
    """The validated :class:`ModelConfig` recorded in a checkpoint (the authors' files: the default)."""
    return _config_of(read_checkpoint(path, weights_only=weights_only), path)


def _config_of(ckpt: Mapping[str, Any], path: str) -> ModelConfig:
    recorded = ckpt.get("model_config")
    if recorded is None:
        return ModelConfig()
    try:
        return validate_model_config(recorded)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def verify_checkpoint(path: str, weights_only: bool = True
                      ) -> Tuple[ModelConfig, Dict[str, torch.Tensor], Dict[str, Any]]:
    """Validate a file without allocating a model: ``(config, state_dict, other entries)``.

    The config is checked first, then keys and shapes against the model built on the ``meta``
    device (shapes only, no memory), then the values (finite). Raises :class:`CheckpointError`.
    """
    ckpt = read_checkpoint(path, weights_only=weights_only)
    config = _config_of(ckpt, path)
    state = strip_prefix(ckpt["model_state_dict"])
    try:
        with torch.device("meta"):
            skeleton = build_model(config, init_weights=False)
        check_state_dict(skeleton, state)
        check_finite(state)
    except (CheckpointError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return config, state, {k: v for k, v in ckpt.items() if k != "model_state_dict"}


def build_model_from_checkpoint(path: str, device: Optional[str] = None,
                                weights_only: bool = True) -> STMTrack:
    """Build the model the checkpoint describes, load its weights strictly, set eval mode.

    Everything is validated (:func:`verify_checkpoint`) before the model is allocated.
    Start-up: the file is read once, and the modules are built on the meta device, so no random
    initialisation runs for tensors the file then overwrites; the file's tensors are assigned
    (cast to the model's dtypes, so values are those ``load_checkpoint`` would copy). Unused
    legacy blocks a file lacks get PyTorch's default initialisation, as a regular build does.
    """
    config, state, _ = verify_checkpoint(path, weights_only=weights_only)
    with torch.device("meta"):
        model = build_model(config, init_weights=False)
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False,
                          assign=True)
    for name in LEGACY_BLOCKS:
        block = getattr(model, name)
        if any(t.is_meta for t in list(block.parameters()) + list(block.buffers())):
            block.to_empty(device="cpu")
            for module in block.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            block.load_state_dict({k[len(name) + 1:]: v for k, v in state.items()
                                   if k.startswith(name + ".")}, strict=False)
    if device is not None:
        model.to(device)
    return model.eval()


def save_checkpoint(model: torch.nn.Module, path: str, epoch: int = -1,
                    optimizer: Optional[torch.optim.Optimizer] = None,
                    extra: Optional[Mapping[str, Any]] = None) -> None:
    """Write ``{'epoch', 'model_state_dict'[, 'optimizer_state_dict'], 'model_config'}``.

    The authors' loader reads these files unchanged (it only looks at ``model_state_dict``). The
    file is written to a temporary name and renamed, so a crash never leaves half a checkpoint.
    ``extra`` adds plain-data entries (numbers, strings, dicts of tensors), e.g. a scheduler state.
    """
    inner = getattr(model, "module", model)  # unwrap DataParallel / DDP
    config = getattr(inner, "config", None)
    write_checkpoint(path, inner.state_dict(), config if isinstance(config, ModelConfig) else None,
                     epoch, None if optimizer is None else optimizer.state_dict(), extra)


def write_checkpoint(path: str, state_dict: Mapping[str, torch.Tensor],
                     config: Optional[ModelConfig] = None, epoch: int = -1,
                     optimizer_state: Optional[Mapping[str, Any]] = None,
                     extra: Optional[Mapping[str, Any]] = None) -> None:
    """:func:`save_checkpoint` from a state dict (and its :class:`ModelConfig`), atomically."""
    payload = {"epoch": int(epoch), "model_state_dict": dict(state_dict)}
    if optimizer_state is not None:
        payload["optimizer_state_dict"] = optimizer_state
    if config is not None:
        payload["model_config"] = dataclasses.asdict(config)
    if extra:
        payload.update(extra)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
