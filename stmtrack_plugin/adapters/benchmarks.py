"""The benchmark table: one entry per benchmark, read by every command that runs or scores one.

``stmtrack eval`` (its ``--benchmark`` choices and default parameters), the got10k experiments
(:func:`got10k_experiments.make_experiment` / ``make_jobs``), the pysot runner's default
parameters and ``stmtrack compare --benchmark`` all read :data:`BENCHMARKS`. Adding a one-pass
benchmark is one entry here (plus a reader in :mod:`benchmark_readers` if its layout is new); the
generic one-pass experiment (:class:`got10k_experiments.ExperimentOPE`) runs and scores it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from stmtrack_plugin.adapters import benchmark_readers as readers
from stmtrack_plugin.adapters import submission
from stmtrack_plugin.adapters.layouts import BaselineLayout, GOT10kLayout, OPELayout

#: what a report scores: success AUC, precision@20 px, normalised precision (LaSOT toolkit)
OPE_METRICS = ("success", "precision", "norm_precision", "speed_fps")
#: got10k's own OTB/UAV123 report (success, precision, success rate)
GOT10K_OTB_METRICS = ("success", "precision", "success_rate", "speed_fps")


@dataclass(frozen=True)
class BenchmarkSpec:
    """How one benchmark is read, run, written and scored.

    ``reader(root, version)`` returns the dataset (``seq_names``, ``[i] -> (frames, (N, 4))``);
    ``protocol`` is ``"ope"`` (one pass from frame 0) or ``"reset"`` (VOT baseline);
    ``params`` the default parameter file; ``layout(folder)`` the result layout;
    ``folder`` the results / reports sub-folder (``{version}`` is filled in); ``versions``
    the accepted versions (splits), the first being the default; ``withheld`` the versions
    whose ground truth is withheld (no report; ``pack(results, zip, seq_names)`` writes the
    server's zip);
    ``aliases`` other names (pysot dataset names) that take this entry's default parameters.
    """

    title: str
    reader: Callable
    protocol: str
    params: str
    layout: Callable
    metrics: Tuple[str, ...]
    folder: str
    versions: Tuple[str, ...] = ("",)
    withheld: Tuple[str, ...] = ()
    pack: Optional[Callable[..., str]] = None
    aliases: Tuple[str, ...] = ()

    def version(self, version=None) -> str:
        """The version to run (default: the first); a clear error for an unknown one."""
        v = self.versions[0] if version in (None, "") else str(version)
        by_lower = {s.lower(): s for s in self.versions}
        if v.lower() not in by_lower:
            raise ValueError(f"{self.title}: unknown version {version!r}; "
                             f"choose from {', '.join(self.versions)}")
        return by_lower[v.lower()]

    def folder_for(self, version: str) -> str:
        return self.folder.format(version=version)


#: name -> BenchmarkSpec(title, reader, protocol, params, layout, metrics, folder, ...)
BENCHMARKS: Dict[str, BenchmarkSpec] = {
    "otb": BenchmarkSpec(
        "OTB", readers.read_otb, "ope", "otb", OPELayout, GOT10K_OTB_METRICS, "OTB{version}",
        versions=("2015", "2013", "tb50", "tb100"), aliases=("otb100", "otb2015")),
    "uav123": BenchmarkSpec(
        "UAV123", readers.read_uav123, "ope", "uav123", OPELayout, GOT10K_OTB_METRICS,
        "{version}", versions=("UAV123",)),
    "uav20l": BenchmarkSpec(
        "UAV20L", readers.read_uav20l, "ope", "uav123", OPELayout, OPE_METRICS, "UAV20L"),
    "got10k": BenchmarkSpec(
        "GOT-10k", readers.read_got10k, "ope", "got10k", GOT10kLayout, ("ao", "sr", "speed_fps"),
        "GOT-10k", versions=("val", "test"), withheld=("test",), pack=submission.pack_got10k,
        aliases=("got-10k",)),
    "lasot": BenchmarkSpec(
        "LaSOT", readers.read_lasot, "ope", "lasot", OPELayout, OPE_METRICS, "LaSOT",
        versions=("test",)),
    "tnl2k": BenchmarkSpec(
        "TNL2K", readers.read_tnl2k, "ope", "lasot", OPELayout, OPE_METRICS, "TNL2K"),
    "nfs": BenchmarkSpec(
        "NfS", readers.read_nfs, "ope", "otb", OPELayout, OPE_METRICS, "NfS{version}",
        versions=("30",)),
    "trackingnet": BenchmarkSpec(
        "TrackingNet", readers.read_trackingnet, "ope", "trackingnet", OPELayout, OPE_METRICS,
        "TrackingNet", versions=("test",), withheld=("test",), pack=submission.pack_trackingnet),
    "vot": BenchmarkSpec(
        "VOT", readers.read_vot, "reset", "vot2018",
        functools.partial(BaselineLayout, write_times=True), ("accuracy", "robustness"),
        "VOT{version}", versions=("2018",), aliases=("vot2016", "vot2018", "vot2019")),
}


def benchmark_spec(name: str) -> BenchmarkSpec:
    try:
        return BENCHMARKS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose from "
                         f"{', '.join(BENCHMARKS)}") from None


def spec_for_dataset(name: Optional[str]) -> Optional[BenchmarkSpec]:
    """The entry a benchmark or pysot dataset name (``VOT2018``, ``OTB100``, ...) belongs to."""
    key = (name or "").lower()
    for bench, spec in BENCHMARKS.items():
        if key == bench or key in spec.aliases:
            return spec
    return None


def default_params(name: Optional[str]) -> str:
    """Parameter file of a benchmark or pysot dataset name ("default" when unknown)."""
    spec = spec_for_dataset(name)
    return spec.params if spec is not None else "default"


def is_reset_dataset(name: Optional[str]) -> bool:
    """Whether a benchmark or pysot dataset name is run with the VOT reset protocol."""
    spec = spec_for_dataset(name)
    return spec is not None and spec.protocol == "reset"
