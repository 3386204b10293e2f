"""Training recipe of the lite model (issue 11): EfficientNet-Lite0 trunk, a few hours on a
2-core CPU through the cached-feature route (:mod:`stmtrack_plugin.training.feature_cache`).
Not a paper setting.

Data below ``--data-root`` (``/work/shared/data`` here): ``train/`` (video-file sequences, 70 %)
and ``images/`` (still photos as static-image pairs, 30 %). Never ``sequences/``: that is the
validation set.

ImageNet start from the installed wheel (``pretrained="imagenet"``, extra ``lite``). Stem and
blocks 0-4 (stages 1-3) are computed once for 1,500 sampled pairs x 4 augmentation draws
(6,000 cached samples, 225-pixel crops: 15 x 15 score map, prefix maps 29 x 29 x 40, about
1.6 GB of float16); blocks 5-10 (stages 4-5) fine-tune from epoch 2 at 0.1 x LR; necks, memory
read and head train from the start. 20 epochs of 6,000 samples, total batch 32 (16 x 2).
"""
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.training.config import DatasetSpec, TrainConfig


def recipe() -> TrainConfig:
    return TrainConfig(
        name="stmtrack-lite0-train",
        model=model_config_for("efficientnet_lite0", neck_channels=256, head_channels=128),
        datasets=(DatasetSpec("video", 0.7, "train", "all"),
                  DatasetSpec("still_images", 0.3, "images", "all")),
        crop_size=225,
        pretrained="imagenet",
        feature_cache=True,
        cache_pairs=1500,
        cache_draws=4,
        cache_blocks=5,
        pairs_per_epoch=6000,
        epochs=20,
        reference_batch=32,
        batch_per_device=16,
        base_lr=0.04,
        warmup_start_lr=1e-3,
        warmup_epochs=1,
        end_lr=1e-6,
        backbone_lr_mult=0.1,
        unfreeze_epoch=2,
        num_workers=0,
    )
