"""Training recipe of the paper's GOT-10k model (authors' ``got10k/...-trn.yaml``, SPEC §3).

GOT-10k train only, 150,000 pairs per epoch, 20 epochs, total batch 32 (the authors: 4 GPUs x 8),
SGD 0.08 with one warm-up epoch from 1e-6 then cosine to 1e-6. Expects ``<data-root>/GOT-10k/train``.
"""
from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.training.config import DatasetSpec, TrainConfig


def recipe() -> TrainConfig:
    return TrainConfig(
        name="stmtrack-googlenet-got-train",
        model=ModelConfig(),
        datasets=(DatasetSpec("got10k", 1.0, "GOT-10k", "train"),),
        pairs_per_epoch=150_000,
        epochs=20,
        reference_batch=32,
        batch_per_device=8,
        base_lr=0.08,
        warmup_start_lr=1e-6,
        end_lr=1e-6,
    )
