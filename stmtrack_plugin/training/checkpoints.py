"""Epoch checkpoints in the authors' layout, resume, and the CSV training log.

``<out>/epoch-<e>.pkl`` = ``{'epoch', 'model_state_dict', 'optimizer_state_dict'}`` after every
epoch and ``<out>/final_model.pkl`` = ``{'epoch', 'model_state_dict'}`` at the end, as the
authors' trainer writes them (the tracker loads either), plus the ``model_config`` that
:func:`stmtrack_plugin.model.save_checkpoint` records. Files are written to a temporary name and
renamed, so an interrupted save never leaves a truncated checkpoint.
"""
from __future__ import annotations

import csv
import os
import re
from typing import Dict, Optional, Tuple

import torch

_EPOCH_FILE = re.compile(r"^epoch-(\d+)\.pkl$")
LOG_FIELDS = ("epoch", "step", "global_step", "lr", "loss", "cls", "ctr", "iou", "samples_per_s")


def epoch_path(out_dir: str, epoch: int) -> str:
    return os.path.join(out_dir, f"epoch-{epoch}.pkl")


def latest_checkpoint(out_dir: str) -> Optional[Tuple[int, str]]:
    """``(epoch, path)`` of the highest ``epoch-<e>.pkl`` in ``out_dir``, or None."""
    if not os.path.isdir(out_dir):
        return None
    found = [(int(m.group(1)), n) for n in os.listdir(out_dir) if (m := _EPOCH_FILE.match(n))]
    if not found:
        return None
    epoch, name = max(found)
    return epoch, os.path.join(out_dir, name)


def save_training_checkpoint(model: torch.nn.Module, path: str, epoch: int,
                             optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    """Write the authors' checkpoint layout (no ``module.`` prefix; atomic, plus model_config)."""
    from stmtrack_plugin.model import save_checkpoint

    save_checkpoint(model, path, epoch=epoch, optimizer=optimizer)


def load_training_checkpoint(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                             path: str, device: torch.device) -> int:
    """Restore model and optimizer from an epoch checkpoint; returns the saved epoch."""
    state = torch.load(path, map_location=device, weights_only=True)
    missing = {"epoch", "model_state_dict", "optimizer_state_dict"} - set(state)
    if missing:
        raise KeyError(f"{path} cannot be resumed from: it lacks {', '.join(sorted(missing))} "
                       "(final_model.pkl has no optimizer state; resume from an epoch-<e>.pkl)")
    model.load_state_dict(state["model_state_dict"], strict=True)
    optimizer.load_state_dict(state["optimizer_state_dict"])
    return int(state["epoch"])


class CsvLog:
    """Append-only CSV of per-step losses; on resume, rows past the resumed epoch are dropped."""

    def __init__(self, path: str, keep_until_epoch: Optional[int] = None):
        self.path = path
        rows = []
        if keep_until_epoch is not None and os.path.isfile(path):
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_until_epoch]
        self._file = open(path, "w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=LOG_FIELDS)
        self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()

    def write(self, row: Dict[str, float]) -> None:
        self._writer.writerow({k: row.get(k, "") for k in LOG_FIELDS})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_log(path: str):
    """The CSV log as a list of dicts with float values (for tests and plots)."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
