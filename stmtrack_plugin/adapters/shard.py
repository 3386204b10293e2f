"""Shares of a benchmark for jobs of an outside scheduler (``stmtrack eval --shard I/N``).

Shard ``I`` of ``N`` (0-based: ``0 <= I < N``, as ``$SLURM_ARRAY_TASK_ID`` with
``--array=0-(N-1)``, a Kubernetes indexed job's ``$JOB_COMPLETION_INDEX`` and torchrun's
``$RANK`` count) runs the sequences at positions ``I, I+N, I+2N, ...`` of the benchmark's
sequence names in sorted order. The split depends only on the names, so every job computes the
same partition, and the N shares together are every sequence exactly once.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple, TypeVar

T = TypeVar("T")


def parse_shard(text: str) -> Tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, 0-based; a clear ``ValueError`` for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not match:
        raise ValueError(f"--shard must be I/N (e.g. 0/4), got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ValueError(f"--shard {text}: need N >= 1 and 0 <= I < N (shards are 0-based)")
    return index, count


def select_shard(jobs: Sequence[T], index: int, count: int) -> List[T]:
    """The jobs of shard ``index`` of ``count``: round-robin over the names sorted, returned in
    their original order. Jobs need a ``name``; names must be unique."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need count >= 1 and 0 <= index < count")
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError("sequence names must be unique to shard a benchmark")
    mine = set(sorted(names)[index::count])
    return [job for job in jobs if job.name in mine]


def missing_results(jobs: Sequence) -> List[str]:
    """Names of the jobs with no result file yet (e.g. other shards still running)."""
    return [job.name for job in jobs if not job.done]


def shard_report_note(jobs: Sequence, shard: Optional[Tuple[int, int]]) -> Optional[str]:
    """Why a sharded run does not report yet (None: every sequence has its result)."""
    missing = missing_results(jobs)
    if shard is None or not missing:
        return None
    return (f"shard {shard[0]}/{shard[1]} finished; report skipped: {len(missing)} of "
            f"{len(jobs)} sequences have no result yet (other shards). When all shards are done, "
            "run the same command without --shard: it finds every result and only reports.")


def shard_argument(text: str) -> Tuple[int, int]:
    """argparse ``type=`` for ``--shard``: :func:`parse_shard` with its message kept."""
    import argparse

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
