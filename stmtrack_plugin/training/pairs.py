"""The training set: index -> one sample of T memory crops, a query crop and dense targets.

Samples are random but reproducible: sample ``i`` of epoch ``e`` is drawn from a generator seeded
with ``(seed, e, i)``, so any worker, process or resumed run sees the same data for the same index
(``resample_each_epoch=False`` uses e = 0 for every epoch: a fixed set of samples).
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from stmtrack_plugin.model.trunks import score_geometry
from stmtrack_plugin.training.config import TrainConfig
from stmtrack_plugin.training.datasets import build_dataset
from stmtrack_plugin.training.datasets.base import TrackRecord
from stmtrack_plugin.training.datasets.frames import VideoFrameReader, read_record_frames
from stmtrack_plugin.training.sampler import PairSampler, SampleSpec, box_is_reasonable
from stmtrack_plugin.training.targets import make_densebox_target
from stmtrack_plugin.training.transforms import fg_bg_label_map, random_crop


def load_datasets(cfg: TrainConfig, data_root: str, use_cache: bool = True) -> List[List[TrackRecord]]:
    """Read every dataset of the recipe (``spec.path`` is relative to ``data_root``)."""
    return [build_dataset(s.kind, os.path.join(data_root, s.path), s.split, use_cache)
            for s in cfg.datasets]


class TrainingPairs(torch.utils.data.Dataset):
    """``pairs_per_epoch`` samples; ``set_epoch(e)`` changes which samples the indices give.

    Item (S = crop size, K = score cells): ``memory_frames`` (T,3,S,S) float32 BGR 0..255,
    ``memory_fg_bg`` (T,1,S,S), ``query`` (3,S,S), ``cls_gt``/``ctr_gt`` (K,1), ``box_gt`` (K,4)
    xyxy crop pixels, ``negative`` () bool.
    """

    def __init__(self, datasets: Sequence[Sequence[TrackRecord]], cfg: TrainConfig,
                 length: Optional[int] = None):
        self.cfg = cfg
        self.sampler = PairSampler(datasets, [s.ratio for s in cfg.datasets], cfg.num_memory_frames,
                                   cfg.max_gap, cfg.negative_ratio, cfg.authors_sampler_bug)
        self.length = cfg.pairs_per_epoch if length is None else length
        self.epoch = 0
        self.video_reader = VideoFrameReader()  # per process: decoders are not pickled
        # the score grid of the recipe's model (its trunk's stride, map size and cell offset)
        self.score_size, self.offset = score_geometry(cfg.model, cfg.crop_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def _load(self, spec: SampleSpec):
        """Read the frames of a sample; None if any box fails the authors' filter."""
        cfg = self.cfg
        frames = list(spec.memory) + [spec.query]
        images = read_record_frames(frames, self.video_reader)  # image files or video frames
        for (rec, idx), image in zip(frames, images):
            if not box_is_reasonable(rec.boxes[idx], image.shape, cfg.max_aspect_ratio,
                                     cfg.area_rate_range, cfg.authors_filter_bug):
                return None
        return [(image, rec.boxes[idx]) for (rec, idx), image in zip(frames, images)]

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        epoch = self.epoch if cfg.resample_each_epoch else 0
        rng = np.random.default_rng([cfg.seed % (2 ** 32), epoch, int(index)])
        loaded, negative = self.draw_frames(rng)
        return self.make_item(loaded, negative, rng)

    def draw_frames(self, rng: np.random.Generator):
        """Sample frames until all boxes pass the filter: ``([(image, box xywh)] * (T + 1),
        negative)``, memory frames first, the query last."""
        cfg = self.cfg
        for _ in range(cfg.max_sample_tries):
            spec = self.sampler.sample(rng)
            loaded = self._load(spec)
            if loaded is not None:
                return loaded, spec.negative
        raise RuntimeError(f"no sample passed the box filter in {cfg.max_sample_tries} tries; "
                           "check the datasets' boxes or the filter settings (area_rate_range, "
                           "max_aspect_ratio)")

    def make_item(self, loaded, negative: bool, rng: np.random.Generator):
        """Random crops of the frames of :meth:`draw_frames` and their targets (one item)."""
        cfg, size = self.cfg, self.cfg.crop_size
        crops, boxes = [], []
        for image, box in loaded:
            crop, box_xyxy = random_crop(image, box, rng, size, cfg.search_factor,
                                         cfg.scale_jitter, cfg.shift_jitter)
            crops.append(crop)
            boxes.append(box_xyxy)
        memory = np.stack([c.transpose(2, 0, 1) for c in crops[:-1]]).astype(np.float32)
        labels = np.stack([fg_bg_label_map(b, size) for b in boxes[:-1]])[:, None]
        cls, ctr, box = make_densebox_target(boxes[-1], self.score_size, self.offset,
                                             cfg.model.total_stride, negative)
        return {
            "memory_frames": torch.from_numpy(memory),
            "memory_fg_bg": torch.from_numpy(labels),
            "query": torch.from_numpy(crops[-1].transpose(2, 0, 1).astype(np.float32)),
            "cls_gt": torch.from_numpy(cls), "ctr_gt": torch.from_numpy(ctr),
            "box_gt": torch.from_numpy(box), "negative": torch.tensor(bool(negative)),
        }
