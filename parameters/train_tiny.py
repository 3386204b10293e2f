"""Tiny recipe for tests and smoke runs on a CPU (not a paper setting).

A 1/8-width model on 129-pixel crops (5x5 score map), GOT-10k- and LaSOT-layout folders
``<data-root>/got10k`` and ``<data-root>/lasot``, 16 pairs per epoch in steps of 2, backbone
convs unfrozen from epoch 1 so the whole schedule runs in a few seconds.
"""
from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.training.config import DatasetSpec, TrainConfig


def recipe() -> TrainConfig:
    return TrainConfig(
        name="stmtrack-tiny",
        model=ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32),
        datasets=(DatasetSpec("got10k", 1.0, "got10k", "train"),
                  DatasetSpec("lasot", 1.0, "lasot", "all")),
        crop_size=129,
        pairs_per_epoch=16,
        epochs=3,
        reference_batch=2,
        batch_per_device=2,
        base_lr=0.02,
        warmup_start_lr=0.002,
        end_lr=1e-4,
        unfreeze_epoch=1,
        num_workers=0,
        seed=7,
    )
