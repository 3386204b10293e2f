"""The STMTrack network (stateless ``nn.Module`` s), its builder and checkpoint I/O.

>>> from stmtrack_plugin.model import build_model, load_checkpoint
>>> model = build_model()                      # the authors' GoogLeNet model, random weights
>>> load_checkpoint(model, "epoch-19.pkl")     # strict; weights_only=True  # doctest: +SKIP
"""
from stmtrack_plugin.model.checkpoint import (
    CheckpointError,
    build_model_from_checkpoint,
    check_finite,
    check_state_dict,
    load_checkpoint,
    model_config_of,
    read_checkpoint,
    save_checkpoint,
    validate_model_config,
    verify_checkpoint,
)
from stmtrack_plugin.model.head import HeadOutput, memory_read
from stmtrack_plugin.model.imagenet import ImageNetReport, load_imagenet_backbones
from stmtrack_plugin.model.stmtrack import LEGACY_BLOCKS, STMTrack, build_model

__all__ = [
    "STMTrack", "build_model", "HeadOutput", "memory_read", "LEGACY_BLOCKS",
    "CheckpointError", "load_checkpoint", "save_checkpoint", "read_checkpoint",
    "check_state_dict", "check_finite", "model_config_of", "build_model_from_checkpoint",
    "validate_model_config", "verify_checkpoint",
    "ImageNetReport", "load_imagenet_backbones",
]
