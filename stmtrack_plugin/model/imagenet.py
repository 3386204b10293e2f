"""ImageNet initialisation of both trunks from torchvision's Inception-v3 weights.

The file is torchvision's ``inception_v3_google-<hash>.pth`` (a bare state dict with keys such as
``Conv2d_1a_3x3.conv.weight`` and ``Mixed_6e.branch_pool.bn.running_var``). Our trunks use the
same layer names, so the mapping is ``<key>`` -> ``basemodel_m.<key>`` and ``basemodel_q.<key>``.
Keys past Mixed_6e (Mixed_7*, AuxLogits, fc) are ignored; the label-map conv, the necks and the
head keep their random init. A shape mismatch or a missing trunk weight is an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Tuple

import torch

from stmtrack_plugin.model.checkpoint import CheckpointError, read_checkpoint, strip_prefix

TRUNKS = ("basemodel_m", "basemodel_q")
#: trunk keys that may be absent from the ImageNet file (older files lack the BN counters)
_OPTIONAL_SUFFIXES = ("num_batches_tracked",)
_NEW_LAYERS = ("proj_fg_bg_label_map.",)


@dataclass(frozen=True)
class ImageNetReport:
    """What :func:`load_imagenet_backbones` did."""

    loaded: Tuple[str, ...]  # file keys copied into both trunks
    ignored: Tuple[str, ...]  # file keys with no counterpart (Mixed_7*, AuxLogits, fc, ...)
    kept_init: Tuple[str, ...]  # model keys left at their init (label-map conv, BN counters)

    def summary(self) -> str:
        return (f"ImageNet init: {len(self.loaded)} tensors loaded into each trunk, "
                f"{len(self.ignored)} file keys ignored, {len(self.kept_init)} model keys kept "
                f"at init ({', '.join(sorted({k.split('.')[1] for k in self.kept_init})[:4])})")


def map_imagenet_state(model: torch.nn.Module, file_state: Mapping[str, torch.Tensor]):
    """Pure mapping step: return (new tensors by model key, report). Raises on mismatches."""
    file_state = strip_prefix(file_state)
    model_state = model.state_dict()
    new, loaded, kept, bad_shape, missing = {}, set(), [], [], []
    for trunk in TRUNKS:
        for key, value in model_state.items():
            if not key.startswith(trunk + "."):
                continue
            sub = key[len(trunk) + 1:]
            if sub not in file_state:
                if sub.startswith(_NEW_LAYERS) or sub.endswith(_OPTIONAL_SUFFIXES):
                    kept.append(key)
                else:
                    missing.append(sub)
                continue
            src = file_state[sub]
            if tuple(src.shape) != tuple(value.shape):
                bad_shape.append(f"{sub} (file {tuple(src.shape)}, model {tuple(value.shape)})")
                continue
            new[key] = src.to(value.dtype)
            loaded.add(sub)
    if bad_shape:
        raise CheckpointError("ImageNet weights do not fit the trunk (is the model a reduced "
                              f"width?): {len(bad_shape)} wrongly shaped: "
                              + ", ".join(sorted(set(bad_shape))[:8]))
    if missing:
        raise CheckpointError("not an Inception-v3 file: missing trunk weights "
                              + ", ".join(sorted(set(missing))[:8]))
    ignored = tuple(sorted(k for k in file_state if k not in loaded))
    return new, ImageNetReport(tuple(sorted(loaded)), ignored, tuple(sorted(kept)))


def load_imagenet_backbones(model: torch.nn.Module, path: str,
                            weights_only: bool = True) -> ImageNetReport:
    """Copy torchvision Inception-v3 ImageNet weights into both trunks of ``model``."""
    state = read_checkpoint(path, weights_only=weights_only)["model_state_dict"]
    new, report = map_imagenet_state(model, state)
    model.load_state_dict(new, strict=False)
    return report
