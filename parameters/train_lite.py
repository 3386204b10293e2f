"""Training recipe of the lite model (issue 11): EfficientNet-Lite0 trunk, a few hours on a
2-core CPU through the cached-feature route (:mod:`stmtrack_plugin.training.feature_cache`).
Not a paper setting.

Data below ``--data-root`` (``/work/shared/data`` here): ``train/`` (video-file sequences, 70 %)
and ``images/`` (still photos as static-image pairs, 30 %). Never ``sequences/``: that is the
validation set.

ImageNet start from the installed wheel (``pretrained="imagenet"``, extra ``lite``). Stem and
blocks 0-7 (stages 1-4) are computed once for 1,500 sampled pairs x 4 augmentation draws (6,000
cached samples; 225-pixel crops: 15 x 15 score map, prefix maps 15 x 15 x 80, about 0.9 GB of
float16); stage 5 (blocks 8-10) fine-tunes from epoch 1 at 0.1 x LR (the trunk's freeze plan
would also train blocks 5-7; the cache keeps them frozen); necks, memory read and head train from
the start. 10 epochs of 2,000 samples, total batch 32 (16 x 2).

Budget (``benchmarks/train_lite_throughput.py``, this 2-core box under load, batch 8): stage (a)
~2.4 samples/s (~45 min), stage (b) ~1.9 samples/s (~3 h); splitting after block 4 instead
(``--set cache_blocks=5``: stages 4-5 fine-tune) measured ~0.9 samples/s, the full route ~0.6.
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
        cache_blocks=8,
        pairs_per_epoch=2000,
        epochs=10,
        reference_batch=32,
        batch_per_device=16,
        base_lr=0.04,
        warmup_start_lr=1e-3,
        warmup_epochs=1,
        end_lr=1e-6,
        backbone_lr_mult=0.1,
        unfreeze_epoch=1,
        num_workers=0,
    )
