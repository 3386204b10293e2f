"""The training loop: AMP, gradient accumulation, DDP, per-epoch checkpoints and resume.

One *step* is one optimiser update over ``accum_steps`` micro-batches of ``batch_per_device``
samples on every process, i.e. ``effective_batch`` samples (see
:func:`~stmtrack_plugin.training.config.resolve_accumulation`). An epoch has
``pairs_per_epoch // effective_batch`` steps, as the authors' 4687 iterations of 32 pairs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from typing import Optional

import torch

from stmtrack_plugin.training import checkpoints as ckpt
from stmtrack_plugin.training.config import TrainConfig, resolve_accumulation
from stmtrack_plugin.training.distributed import (DistInfo, barrier, convert_batchnorm,
                                                  sum_across_processes, wrap_ddp)
from stmtrack_plugin.training.losses import loss_normalizers, stmtrack_loss
from stmtrack_plugin.training.pairs import TrainingPairs, load_datasets
from stmtrack_plugin.training.plots import plot_training_log
from stmtrack_plugin.training.schedule import (apply_freeze, build_optimizer, learning_rate,
                                               set_learning_rate)
from stmtrack_plugin.utils.io import atomic_write_text


#: ``pretrained`` value that asks the trunk's own ImageNet loader (the EfficientNet-Lite0 wheel)
IMAGENET = "imagenet"


def build_training_model(cfg: TrainConfig, device: torch.device, pretrained: Optional[str] = None,
                         announce: bool = False) -> torch.nn.Module:
    """The STMTrack model in train mode, optionally with ImageNet trunks.

    ``pretrained`` (default ``cfg.pretrained``): a path to the trunk's ImageNet file, or
    ``"imagenet"`` for the file the trunk finds itself (the EfficientNet-Lite0 wheel; the
    authors' trunk has none and raises). The random initialisation is seeded with ``cfg.seed``.
    """
    from stmtrack_plugin.model import build_model, load_imagenet_backbones

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    if cfg.head_init == "kaiming":
        kaiming_head_towers(model.head)
    pretrained = pretrained or cfg.pretrained
    if pretrained:
        if pretrained != IMAGENET and not os.path.isfile(pretrained):
            raise FileNotFoundError(f"pretrained backbone file not found: {pretrained}")
        report = load_imagenet_backbones(model, None if pretrained == IMAGENET else pretrained)
        if announce:
            print(report.summary(), flush=True)
    apply_freeze(model, 0, cfg.unfreeze_epoch)
    return model.to(device).train()


def kaiming_head_towers(head: torch.nn.Module) -> None:
    """Re-initialise the head's two conv towers He-normal (fan-in, ReLU gain), biases 0.

    The authors' init (every head conv N(0, 1e-4), no normalisation inside the 7-conv towers)
    scales the input-dependent part of the signal by ~5e-3 per conv: after 7 convs it is ~1e-16
    of the bias-driven part, so the towers start as constants. A long training on big data
    breaks out of that; a short one does not (measured in the lite recipe: after 2 epochs the
    regression tower's output did not vary across samples at all, std 0, and the IoU loss stayed
    flat). He init keeps the signal's scale through the towers. The output convs (with BN) and
    the cls prior keep the authors' init.
    """
    from stmtrack_plugin.model.head import ConvTower

    for tower in (m for m in head.modules() if isinstance(m, ConvTower)):
        for conv in (m for m in tower.modules() if isinstance(m, torch.nn.Conv2d)):
            torch.nn.init.kaiming_normal_(conv.weight, mode="fan_in", nonlinearity="relu")
            torch.nn.init.zeros_(conv.bias)


def _single_threaded_worker(_worker_id: int) -> None:
    """Data workers crop with one OpenCV / torch thread each (no oversubscription)."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class Trainer:
    """Train ``cfg`` on ``data_root`` into ``out_dir`` (one process of a possibly larger group)."""

    def __init__(self, cfg: TrainConfig, data_root: str, out_dir: str, device: torch.device,
                 dist: DistInfo = DistInfo(), pretrained: Optional[str] = None,
                 progress: bool = True, tensorboard: bool = False, use_cache: bool = True,
                 feature_cache_dir: Optional[str] = None):
        self.cfg, self.out_dir, self.device, self.dist = cfg, out_dir, device, dist
        self.data_root = data_root
        self.feature_cache_dir = feature_cache_dir or os.path.join(out_dir, "feature_cache")
        if cfg.feature_cache and dist.world_size > 1:
            raise ValueError("feature_cache runs in one process (the route is for one CPU)")
        self.progress, self.tensorboard = progress, tensorboard
        self.accum, self.effective_batch, self.lr_scale = resolve_accumulation(cfg, dist.world_size)
        self.steps_per_epoch = max(cfg.pairs_per_epoch // self.effective_batch, 1)
        samples_per_rank = self.steps_per_epoch * self.accum * cfg.batch_per_device
        self.dataset = TrainingPairs(load_datasets(cfg, data_root, use_cache), cfg,
                                     length=samples_per_rank * dist.world_size)
        model = build_training_model(cfg, device, pretrained, announce=dist.is_main)
        if cfg.feature_cache:
            from stmtrack_plugin.training.trunk_split import check_cacheable

            check_cacheable(model, cfg)
        self.model = convert_batchnorm(model, cfg.sync_bn, device, dist)
        self.optimizer = build_optimizer(self.model, cfg)
        amp_cuda = cfg.amp and device.type == "cuda"
        if cfg.amp and not amp_cuda and dist.is_main:
            warnings.warn(f"--amp on {device.type} autocasts to bfloat16, which is usually much "
                          "slower than float32 on CPUs without bfloat16 units")
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp_cuda)
        self.amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

    # ------------------------------------------------------------------ set-up
    def _loader(self, epoch: int) -> torch.utils.data.DataLoader:
        self.dataset.set_epoch(epoch)
        sampler = torch.utils.data.DistributedSampler(
            self.dataset, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True,
            seed=self.cfg.seed % (2 ** 31), drop_last=True)
        sampler.set_epoch(epoch)
        workers = self.cfg.num_workers
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=self.cfg.batch_per_device, sampler=sampler,
            num_workers=workers, drop_last=True, pin_memory=self.device.type == "cuda",
            persistent_workers=False, prefetch_factor=2 if workers > 0 else None,
            worker_init_fn=_single_threaded_worker if workers > 0 else None)

    def _start_epoch(self, resume: bool) -> int:
        """0 for a fresh run; the epoch after the latest checkpoint when resuming."""
        latest = ckpt.latest_checkpoint(self.out_dir)
        if not resume:
            if latest is not None:
                raise FileExistsError(f"{self.out_dir} already holds {latest[1]}; pass --resume "
                                      "to continue that run or choose another --out folder")
            return 0
        if latest is None:
            raise FileNotFoundError(f"--resume: no epoch-<e>.pkl checkpoint in {self.out_dir}")
        self._warn_changed_config()
        done = ckpt.load_training_checkpoint(self.model, self.optimizer, latest[1], self.device)
        return done + 1

    def _warn_changed_config(self) -> None:
        """Name the recipe fields that differ from the run being resumed (e.g. ``epochs``)."""
        path = os.path.join(self.out_dir, "run_info.json")
        if not (self.dist.is_main and os.path.isfile(path)):
            return
        with open(path) as f:
            before = json.load(f).get("config", {})
        now = json.loads(json.dumps(dataclasses.asdict(self.cfg)))  # tuples -> lists, as saved
        changed = sorted(k for k in now if k != "num_workers" and before.get(k) != now[k])
        if changed:
            warnings.warn(f"resuming with changed settings: {', '.join(changed)} (the LR "
                          "schedule follows the new values)")

    def _use_feature_cache(self) -> None:
        """Stage (a) of the cached route (after a resume has restored the weights, so the cache
        key holds the prefix weights actually trained with); the cache replaces the pairs."""
        from stmtrack_plugin.training.feature_cache import FeatureCache, build_feature_cache

        cache = build_feature_cache(self.model, self.cfg, self.dataset, self.data_root,
                                    self.feature_cache_dir, progress=self.progress)
        self.dataset = FeatureCache(cache.folder, cache.key, length=len(self.dataset))

    def _write_run_info(self) -> None:
        info = {"config": dataclasses.asdict(self.cfg), "world_size": self.dist.world_size,
                "accum_steps": self.accum, "effective_batch": self.effective_batch,
                "lr_scale": self.lr_scale, "steps_per_epoch": self.steps_per_epoch}
        atomic_write_text(os.path.join(self.out_dir, "run_info.json"), json.dumps(info, indent=2))

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool = False) -> int:
        """Train the remaining epochs; returns the number of epochs trained in this call."""
        os.makedirs(self.out_dir, exist_ok=True)
        start = self._start_epoch(resume)
        if self.cfg.feature_cache and start < self.cfg.epochs:
            self._use_feature_cache()
        log = writer = None
        if self.dist.is_main:
            self._write_run_info()
            log = ckpt.CsvLog(os.path.join(self.out_dir, "train_log.csv"),
                              keep_until_epoch=start - 1 if resume else None)
            writer = self._tensorboard_writer()
        try:
            for epoch in range(start, self.cfg.epochs):
                self.train_epoch(epoch, log, writer)
                if self.dist.is_main:
                    ckpt.save_training_checkpoint(self.model, ckpt.epoch_path(self.out_dir, epoch),
                                                  epoch, self.optimizer)
                    plot_training_log(log.path, os.path.join(self.out_dir, "train_log.png"))
                barrier(self.dist)
            if self.dist.is_main and start < self.cfg.epochs:
                ckpt.save_training_checkpoint(self.model, os.path.join(self.out_dir, "final_model.pkl"),
                                              self.cfg.epochs - 1)
        finally:
            if log is not None:
                log.close()
            if writer is not None:
                writer.close()
        return max(self.cfg.epochs - start, 0)

    def _tensorboard_writer(self):
        if not self.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ImportError("--tensorboard needs the tensorboard package "
                              "(pip install 'stmtrack-plugin[train]')") from exc
        return SummaryWriter(os.path.join(self.out_dir, "tensorboard"))

    def train_epoch(self, epoch: int, log=None, writer=None) -> float:
        """One epoch of optimiser steps; returns the mean loss over its steps."""
        apply_freeze(self.model, epoch, self.cfg.unfreeze_epoch)
        if self.cfg.feature_cache:
            from stmtrack_plugin.training.trunk_split import freeze_prefix

            freeze_prefix(self.model, self.cfg.cache_blocks)
        net = wrap_ddp(self.model, self.device, self.dist)  # rebuilt: trainable set may change
        net.train()
        batches = iter(self._loader(epoch))
        steps = range(self.steps_per_epoch)
        if self.progress and self.dist.is_main:
            from tqdm import tqdm

            steps = tqdm(steps, desc=f"epoch {epoch}/{self.cfg.epochs - 1}", unit="step")
        total = 0.0
        for step in steps:
            lr = learning_rate(self.cfg, epoch, step, self.steps_per_epoch, self.lr_scale)
            set_learning_rate(self.optimizer, lr)
            tic = time.perf_counter()
            parts = self._optimizer_step(net, batches)
            rate = self.effective_batch / max(time.perf_counter() - tic, 1e-9)
            total += parts["loss"]
            row = dict(parts, epoch=epoch, step=step, lr=lr, samples_per_s=rate,
                       global_step=epoch * self.steps_per_epoch + step)
            if log is not None:
                log.write(row)
            if writer is not None:
                for key in ("loss", "cls", "ctr", "iou", "lr"):
                    writer.add_scalar(f"train/{key}", row[key], row["global_step"])
            if hasattr(steps, "set_postfix"):
                steps.set_postfix({"loss": f"{parts['loss']:.3f}", "lr": f"{lr:.2e}",
                                   "samples/s": f"{rate:.1f}"})
        return total / self.steps_per_epoch

    def _optimizer_step(self, net: torch.nn.Module, batches) -> dict:
        """One optimiser update over ``accum`` micro-batches on every process.

        The losses are normalised by the positive / centerness cell counts of the whole
        effective batch (all micro-batches, all processes), so the gradient equals that of the
        authors' loss on one gathered batch. DDP averages gradients over processes, hence the
        factor ``world_size``. Returns the effective batch's loss parts.
        """
        cfg = self.cfg
        micro_batches = [{k: v.to(self.device, non_blocking=True) for k, v in next(batches).items()}
                         for _ in range(self.accum)]
        counts = sum(loss_normalizers(b["cls_gt"], b["ctr_gt"], cfg.authors_centerness_bug).cpu()
                     for b in micro_batches)
        normalizers = tuple(float(c) for c in sum_across_processes(counts.to(self.device),
                                                                    self.dist).cpu())
        is_ddp = isinstance(net, torch.nn.parallel.DistributedDataParallel)
        sums = torch.zeros(4, dtype=torch.float64)
        for micro, batch in enumerate(micro_batches):
            sync = micro == self.accum - 1 or not is_ddp
            with (contextlib.nullcontext() if sync else net.no_sync()):
                loss, parts = self._loss(net, batch, normalizers)
                self.scaler.scale(loss * self.dist.world_size).backward()
            sums += torch.tensor([float(loss.detach()), parts["cls"], parts["ctr"], parts["iou"]],
                                 dtype=torch.float64)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        total = sum_across_processes(sums.to(self.device), self.dist).cpu()
        return dict(zip(("loss", "cls", "ctr", "iou"), (float(v) for v in total)))

    def _loss(self, net: torch.nn.Module, batch: dict, normalizers):
        cfg = self.cfg
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=cfg.amp):
            if cfg.feature_cache:
                from stmtrack_plugin.training.trunk_split import forward_from_cache

                out = forward_from_cache(net, cfg.cache_blocks, batch["memory"], batch["query"],
                                         cfg.crop_size, batch.get("memory_label"))
            else:
                out = net(batch["memory_frames"], batch["memory_fg_bg"], batch["query"])
        return stmtrack_loss(out.cls_logits, out.ctr_logits, out.boxes, batch["cls_gt"],
                             batch["ctr_gt"], batch["box_gt"],
                             (cfg.cls_weight, cfg.ctr_weight, cfg.iou_weight), cfg.focal_alpha,
                             cfg.focal_gamma, cfg.authors_centerness_bug, normalizers)
