"""Training recipe of the paper's full-data model (authors' ``fulldata/...-fulldata.yaml``, SPEC §3).

TrackingNet 0.65, LaSOT 0.3, GOT-10k 0.2, ImageNet VID 0.2, ImageNet DET 0.08, COCO 2017 0.07
(normalised 43/20/13/13/5/5 %), 300,000 pairs per epoch, 20 epochs, total batch 64 (the authors:
8 GPUs x 8), warm-up 0.01 -> 0.08 then cosine to 1e-6. Folders below ``--data-root``:
``TrackingNet/``, ``LaSOT/`` (with ``training_set.txt``), ``GOT-10k/``, ``ILSVRC2015/`` (VID and
DET share the ILSVRC root) and ``COCO/``.
"""
from stmtrack_plugin.config import ModelConfig
from stmtrack_plugin.training.config import DatasetSpec, TrainConfig


def recipe() -> TrainConfig:
    return TrainConfig(
        name="stmtrack-googlenet-fulldata-train",
        model=ModelConfig(),
        datasets=(
            DatasetSpec("trackingnet", 0.65, "TrackingNet", "train"),
            DatasetSpec("lasot", 0.3, "LaSOT", "train"),
            DatasetSpec("got10k", 0.2, "GOT-10k", "train"),
            DatasetSpec("imagenet_vid", 0.2, "ILSVRC2015", "train"),
            DatasetSpec("imagenet_det", 0.08, "ILSVRC2015", "train"),
            DatasetSpec("coco", 0.07, "COCO", "train2017"),
        ),
        pairs_per_epoch=300_000,
        epochs=20,
        reference_batch=64,
        batch_per_device=8,
        base_lr=0.08,
        warmup_start_lr=0.01,
        end_lr=1e-6,
    )
