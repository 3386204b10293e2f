"""Frozen parameter dataclasses and the loader for the files in ``parameters/``.

Nothing here reads a global: a builder receives a config object and passes plain values on.
Parameter files (``stmtrack_plugin.parameters.<name>``) define ``parameters()`` returning a
:class:`TrackerParams`; :func:`load_parameters` finds them by name and applies overrides.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import math
import numbers
import os
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

#: Environment variable that names the weights file when no explicit path is given.
WEIGHTS_ENV = "STMTRACK_WEIGHTS"


#: values of ``ModelConfig.tower_norm``
TOWER_NORMS = ("none", "group")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the STMTrack network.

    The defaults are the authors' GoogLeNet (Inception-v3) model, whose checkpoints have the 924
    keys of ``reference/state_dict_keys.json``. ``backbone`` names the trunk (see
    :mod:`stmtrack_plugin.model.trunks`; ``model_config_for(name)`` fills in the stride, crop_pad
    and BN eps a trunk needs). ``width_mult`` < 1 scales every backbone, neck and
    head channel count; it exists only to make tiny models for tests and smoke training (such a
    model cannot load the authors' checkpoints).
    """

    width_mult: float = 1.0  # channel multiplier for the trunks (1.0 = Inception-v3)
    neck_channels: int = 512  # C of the memory / query features after the neck
    head_channels: int = 256  # width of the two 7-conv head towers
    head_num_convs: int = 7  # convs per head tower
    total_stride: int = 8  # stride of the feature map w.r.t. the crop
    crop_pad: int = 4  # border cells removed from the 768-channel backbone output
    bn_eps: float = 1e-3  # BatchNorm eps of the trunk's conv blocks
    backbone: str = "googlenet"  # trunk: "googlenet" (the authors') or "efficientnet_lite0"
    #: where the memory trunk adds the fg/bg label map: 0 = after the stem (the authors'
    #: place); k > 0 = before trunk block k (efficientnet_lite0 only; 11 = at its output)
    label_block: int = 0
    #: normalisation inside the two head towers: "none" (the authors') or "group" (GroupNorm
    #: after every tower conv but the last, as in FCOS; the lite model's opt-in)
    tower_norm: str = "none"

    def __post_init__(self):
        if not (0 < self.width_mult <= 1.0):
            raise ValueError(f"width_mult must be in (0, 1], got {self.width_mult}")
        for name in ("neck_channels", "head_channels", "head_num_convs", "total_stride"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if isinstance(self.label_block, bool) or not isinstance(self.label_block, int) \
                or self.label_block < 0:
            raise ValueError(f"label_block must be an int >= 0, got {self.label_block!r}")
        if not isinstance(self.backbone, str) or not self.backbone:
            raise ValueError(f"backbone must be a trunk name, got {self.backbone!r}")
        if self.tower_norm not in TOWER_NORMS:
            raise ValueError(f"tower_norm must be one of {', '.join(TOWER_NORMS)}, "
                             f"got {self.tower_norm!r}")


@dataclass(frozen=True)
class TrackerParams:
    """Hyper-parameters of the STMTrack tracker (one authors' test yaml = one instance).

    Values follow ``STMTRACK_SPEC.md`` §2.1. ``crop_size`` is the side of the memory and query
    crops (q_size = m_size = 289 in the authors' code); the score map size and offset follow from
    it and the model's stride; the score window is cosine (the authors' only one). Weights are
    not named here (each parameter file's docstring says which released model the authors used
    with its values): see :func:`resolve_weights`.
    """

    name: str = "got10k"
    test_lr: float = 0.95
    window_influence: float = 0.21
    penalty_k: float = 0.04
    search_area_factor: float = 4.0
    confidence_threshold: float = 0.6
    num_segments: int = 4
    min_w: float = 10.0
    min_h: float = 10.0
    crop_size: int = 289
    total_stride: int = 8
    #: frames after which new memory features are stored on ``storage_device`` (the authors'
    #: gpu_memory_threshold; None = never move). Has no numeric effect.
    offload_after: Optional[int] = None
    storage_device: str = "cpu"
    #: dtype of stored memory features: "float32" (faithful) or "float16" (opt-in, halves memory)
    storage_dtype: str = "float32"
    #: dtype of the network's convolutions: "float32" (faithful, the default) or "bfloat16"
    #: (opt-in, ~2x faster on CPUs with AVX512-BF16 / AMX and on GPUs; boxes differ by a few px).
    #: The memory read and the box decoding stay float32.
    compute_dtype: str = "float32"
    #: opt-in cap on stored memory frames (None = the authors' rule, exact). Frames the selection
    #: rule can never read again are always dropped (no effect on results); with a cap, further
    #: frames are dropped to keep the rest evenly spread, and a selected frame that was dropped is
    #: replaced by the nearest stored one. Results change only once more than ``cap`` frames
    #: would be reachable (about 8/7 * cap frames into a sequence, for num_segments = 4).
    max_memory_frames: Optional[int] = None
    #: what the memory keeps per frame: "features" (the authors': encoded features) or "crops"
    #: (opt-in, exact: the uint8 memory crop, re-encoded when the selection rule reads it; about
    #: 1/5 of the memory, more network calls). See stmtrack_plugin.tracking.crop_memory.
    memory_mode: str = "features"
    #: opt-in, exact: run the two independent halves of each network step at the same time on
    #: two threads (the query encoder beside the memory encoding and selection; the box tower
    #: beside the classification tower). Same operations on the same data, so the same output
    #: bit for bit. Each half still uses torch's intra-op threads, so it takes up to twice
    #: ``torch.get_num_threads()`` cores: on 2 cores pair it with 1 torch thread (--threads 1).
    #: Needs the model's encode_query / track_features (STMTrack has them).
    parallel_stages: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self):
        check_field_values(self, _PARAM_RANGES)
        for name, allowed in _PARAM_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be {' or '.join(allowed)}, got {getattr(self, name)!r}")
        if self.memory_mode == "crops" and (self.storage_dtype != "float32"
                                            or self.offload_after is not None):
            raise ValueError("memory_mode='crops' keeps uint8 crops in host memory: "
                             "storage_dtype and offload_after apply to memory_mode='features' only")
        if self.crop_size < 33:
            raise ValueError(f"crop_size must be >= 33, got {self.crop_size}")
        if self.num_segments < 1:
            raise ValueError(f"num_segments must be >= 1, got {self.num_segments}")
        if self.max_memory_frames is not None and self.max_memory_frames < 2:
            raise ValueError(f"max_memory_frames must be >= 2 or None, got {self.max_memory_frames}")
        if self.search_area_factor <= 0:
            raise ValueError(f"search_area_factor must be > 0, got {self.search_area_factor}")


#: [min, max] of TrackerParams' numeric fields (None: unbounded on that side); every number must
#: also be finite and of its field's type. The rules that involve several fields stay in
#: ``TrackerParams.__post_init__``.
_PARAM_RANGES = {
    "test_lr": (0.0, 1.0),
    "window_influence": (0.0, 1.0),
    "penalty_k": (0.0, None),
    "search_area_factor": (0.0, None),
    "confidence_threshold": (None, None),
    "num_segments": (1, 10000),
    "min_w": (0.0, None),
    "min_h": (0.0, None),
    "crop_size": (33, 2049),
    "total_stride": (1, 64),
    "offload_after": (0, None),
    "max_memory_frames": (2, None),
}


#: the allowed values of TrackerParams' string fields that name a choice
_PARAM_CHOICES = {
    "storage_dtype": ("float32", "float16", "bfloat16"),
    "compute_dtype": ("float32", "bfloat16"),
    "memory_mode": ("features", "crops"),
}


def _type_ok(value, hint) -> bool:
    if typing.get_origin(hint) is typing.Union:  # Optional[X]
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:  # numpy scalars are fine
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def check_field_values(obj, ranges: Mapping[str, tuple]) -> None:
    """Raise ``ValueError`` naming the first field of dataclass ``obj`` whose value has the wrong
    type (from the annotations), is a non-finite number, or lies outside ``ranges[name]``."""
    owner = type(obj).__name__
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, hint = getattr(obj, f.name), hints[f.name]
        if not _type_ok(value, hint):
            expected = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
            raise ValueError(f"{owner}.{f.name} must be {expected}, got {value!r} "
                             f"({type(value).__name__})")
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"{owner}.{f.name} must be finite, got {value!r}")
            lo, hi = ranges.get(f.name, (None, None))
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ValueError(f"{owner}.{f.name} = {value!r} is outside "
                                 f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")


def replace_strict(obj, overrides: Mapping[str, Any]):
    """``dataclasses.replace`` that names unknown keys instead of a bare TypeError.

    A nested dataclass field (``model``) may be given as a mapping of its own fields.
    """
    names = {f.name for f in dataclasses.fields(obj)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise KeyError(
            f"unknown {type(obj).__name__} key(s): {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(names))}")
    values = {}
    for key, value in overrides.items():
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, Mapping):
            value = replace_strict(current, value)
        values[key] = value
    return dataclasses.replace(obj, **values)


def shipped_parameter_files(prefix: str = "") -> list:
    """Module names in ``stmtrack_plugin.parameters`` that start with ``prefix``."""
    import pkgutil

    from stmtrack_plugin import parameters as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)
                  if m.name.startswith(prefix) and not m.name.startswith("_"))


def available_parameters() -> list:
    """Names of the tracker parameter files (``train_*`` files are training recipes)."""
    return [n for n in shipped_parameter_files() if not n.startswith("train_")]


def load_parameter_module(name_or_path: str, kind: str = "parameter file",
                          available: Optional[list] = None):
    """Import ``stmtrack_plugin.parameters.<name>``, or execute a user's ``.py`` file.

    Raises ``FileNotFoundError`` for a missing file and ``KeyError`` (listing ``available``) for an
    unknown name; an import error inside an existing file propagates unchanged.
    """
    if name_or_path.endswith(".py") or os.sep in name_or_path:
        if not os.path.isfile(name_or_path):
            raise FileNotFoundError(f"{kind} not found: {name_or_path}")
        spec = importlib.util.spec_from_file_location("_stmtrack_user_file", name_or_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    module_name = f"stmtrack_plugin.parameters.{name_or_path}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        names = available_parameters() if available is None else available
        raise KeyError(f"no {kind} named {name_or_path!r}; available: {', '.join(names)}") from None


def load_parameters(name_or_path: str = "default", **overrides) -> TrackerParams:
    """Load tracker parameters by name (``otb``, ``vot2018``, ...) or from a ``.py`` file.

    Keyword overrides replace fields by name; an unknown name raises ``KeyError``.

    >>> load_parameters("otb", window_influence=0.3).window_influence
    0.3
    """
    module = load_parameter_module(name_or_path)
    if not hasattr(module, "parameters"):
        raise AttributeError(f"parameter file {name_or_path!r} defines no parameters() function")
    params = module.parameters()
    if not isinstance(params, TrackerParams):
        raise TypeError(f"{name_or_path!r}.parameters() returned {type(params).__name__}, "
                        "not TrackerParams")
    return replace_strict(params, overrides) if overrides else params


@dataclass(frozen=True)
class WeightsChoice:
    """The weights file of a run and where it came from: ``"argument"``, ``"env"``
    (``$STMTRACK_WEIGHTS``) or ``"builtin"`` (the package's own model,
    :mod:`stmtrack_plugin.weights`)."""

    path: str
    source: str

    @property
    def builtin(self) -> bool:
        return self.source == "builtin"


def choose_weights(path: Optional[str] = None,
                   env: Optional[Mapping[str, str]] = None) -> WeightsChoice:
    """The weights file: ``path`` if given, else ``$STMTRACK_WEIGHTS``, else the built-in model.

    A given path or variable that names no file raises ``FileNotFoundError``. The built-in is
    checked against its manifest's SHA-256 and announced once per process on stderr; when it is
    not installed, ``FileNotFoundError`` says how to name weights.
    """
    env = os.environ if env is None else env
    candidate = path or env.get(WEIGHTS_ENV)
    if not candidate:
        from stmtrack_plugin import weights as builtin

        return WeightsChoice(builtin.use_builtin(), "builtin")
    candidate = os.path.expanduser(candidate)
    if not os.path.isfile(candidate):
        source = "argument" if path else WEIGHTS_ENV
        raise FileNotFoundError(f"weights file from {source} does not exist: {candidate}")
    return WeightsChoice(candidate, "argument" if path else "env")


def resolve_weights(path: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """The path of :func:`choose_weights`: ``path`` > ``$STMTRACK_WEIGHTS`` > the built-in."""
    return choose_weights(path, env).path
