"""Building the tracker every toolkit adapter drives.

:func:`build_stmtracker` is the single place where an adapter turns (parameter name, weights,
device) into a ready :class:`~stmtrack_plugin.tracking.STMTracker`. :class:`TrackerSpec` is the
picklable description of "which tracker" that the multi-process runner sends to its workers; it
also names the OpenCV peers, so STMTrack and its peers go through the same machinery.

Every tracker built here is a :class:`~stmtrack_plugin.interfaces.Tracker`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Union

from stmtrack_plugin.adapters.peers import PEER_NAMES, OpenCVPeer, find_nanotrack_files
from stmtrack_plugin.config import TrackerParams, load_parameters, resolve_weights
from stmtrack_plugin.interfaces import Tracker
from stmtrack_plugin.weights import choose_params

#: environment variables read by the toolkit entry points (VOT server, pytracking shims)
PARAMS_ENV = "STMTRACK_PARAMS"
DEVICE_ENV = "STMTRACK_DEVICE"


def build_stmtracker(params: Union[str, TrackerParams, None] = None,
                     weights: Optional[str] = None, device: Optional[str] = None) -> Tracker:
    """Build an STMTracker from a parameter name (or ``.py`` path, or object), weights and device.

    ``weights`` None falls back to ``$STMTRACK_WEIGHTS``, then the built-in model (see
    :func:`config.choose_weights`); ``params`` None takes the file those weights call for
    (:func:`stmtrack_plugin.weights.choose_params`); ``device`` None lets the tracker choose
    (CPU unless told otherwise).
    """
    from stmtrack_plugin.tracking import STMTracker

    if not isinstance(params, TrackerParams):
        params = load_parameters(choose_params(params, weights))
    return STMTracker.from_params(params, weights=weights, device=device)


@dataclass(frozen=True)
class TrackerSpec:
    """Picklable recipe for a tracker: STMTrack with its settings, or an OpenCV peer.

    ``kind`` is ``"stmtrack"`` or one of :data:`peers.PEER_NAMES`. ``params``, ``weights`` and
    ``device`` apply to STMTrack: ``params`` None takes the file the weights call for, else
    ``fallback_params`` (a benchmark's own; :meth:`params_name`); ``nanotrack_dir`` to the
    NanoTrack peer. ``label`` is the name results are written under (defaults to ``kind``).
    """

    kind: str = "stmtrack"
    params: Optional[str] = None
    fallback_params: str = "default"
    weights: Optional[str] = None
    device: Optional[str] = None
    nanotrack_dir: Optional[str] = None
    label: Optional[str] = None

    def __post_init__(self):
        if self.kind != "stmtrack" and self.kind not in PEER_NAMES:
            raise ValueError(f"unknown tracker kind {self.kind!r}; choose stmtrack or one of "
                             f"{', '.join(PEER_NAMES)}")

    @property
    def name(self) -> str:
        return self.label or self.kind

    def params_name(self) -> str:
        """The parameter file STMTrack runs with (resolves the weights when none is named)."""
        return choose_params(self.params, self.weights, fallback=self.fallback_params)

    @property
    def deterministic(self) -> bool:
        """MIL draws random samples; every other tracker here gives identical reruns."""
        return self.kind != "mil"

    def build(self) -> Tracker:
        """Construct the tracker (loads weights / ONNX files; call once per process)."""
        if self.kind == "stmtrack":
            return build_stmtracker(self.params_name(), self.weights, self.device)
        return OpenCVPeer(self.kind, nanotrack_dir=self.nanotrack_dir)

    def __call__(self) -> Tracker:
        return self.build()

    def provenance(self) -> dict:
        """What a result made by this tracker depends on (see :mod:`provenance`): package version,
        kind, weights SHA-256 (hashed once per file), every parameter; the weights path and the
        device are informational. Raises ``FileNotFoundError`` for missing weights."""
        from stmtrack_plugin import __version__
        from stmtrack_plugin.adapters.provenance import file_sha256, flatten

        record = {"package_version": __version__, "tracker": self.kind, "info.device": self.device}
        if self.kind == "stmtrack":
            weights = resolve_weights(self.weights)  # the built-in too: hashed like any file
            params = self.params_name()
            record.update({"weights_sha256": file_sha256(weights),
                           "info.weights": os.path.abspath(weights), "info.params": params})
            record.update(flatten("params", load_parameters(params)))
        elif self.kind == "nanotrack":
            files = find_nanotrack_files(self.nanotrack_dir)
            record["weights_sha256"] = "+".join(file_sha256(f) for f in files)
        else:  # OpenCV peers without model files
            record["weights_sha256"] = None
        return record

