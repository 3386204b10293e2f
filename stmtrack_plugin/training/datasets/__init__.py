"""Dataset readers, one module per official layout, and :func:`build_dataset` to pick one.

Each reader returns a list of :class:`~stmtrack_plugin.training.datasets.base.TrackRecord`.
"""
from __future__ import annotations

from typing import List

from stmtrack_plugin.training.datasets.base import TrackRecord
from stmtrack_plugin.training.datasets.coco import load_coco
from stmtrack_plugin.training.datasets.got10k import load_got10k
from stmtrack_plugin.training.datasets.imagenet_det import load_imagenet_det
from stmtrack_plugin.training.datasets.imagenet_vid import load_imagenet_vid
from stmtrack_plugin.training.datasets.lasot import load_lasot
from stmtrack_plugin.training.datasets.otb import load_otb
from stmtrack_plugin.training.datasets.still_images import load_still_images
from stmtrack_plugin.training.datasets.trackingnet import load_trackingnet
from stmtrack_plugin.training.datasets.video import load_video_sequences

__all__ = ["TrackRecord", "build_dataset", "load_coco", "load_got10k", "load_imagenet_det",
           "load_imagenet_vid", "load_lasot", "load_otb", "load_still_images", "load_trackingnet",
           "load_video_sequences"]


def build_dataset(kind: str, root: str, split: str, use_cache: bool = True) -> List[TrackRecord]:
    """Read dataset ``kind`` (a :data:`~stmtrack_plugin.training.config.DATASET_KINDS` name)."""
    readers = {
        "got10k": load_got10k, "lasot": load_lasot, "trackingnet": load_trackingnet,
        "imagenet_vid": load_imagenet_vid, "imagenet_det": load_imagenet_det,
        "coco": load_coco, "otb": load_otb, "video": load_video_sequences,
        "still_images": load_still_images,
    }
    if kind not in readers:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(readers)}")
    return readers[kind](root, split, use_cache=use_cache)
