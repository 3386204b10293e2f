"""Training STMTrack with the authors' recipe (STMTRACK_SPEC.md §3), from one CPU to many GPUs.

Pieces, each usable alone:

* :mod:`.datasets`: readers for GOT-10k, LaSOT, TrackingNet, ImageNet VID/DET, COCO and
  OTB-layout folders, with a cached index;
* :mod:`.sampler`, :mod:`.transforms`, :mod:`.targets`, :mod:`.pairs`: T memory frames + one
  query frame per sample, crop jitter, fg/bg label maps, FCOS-style targets;
* :mod:`.losses`: focal / centerness / IoU losses; :mod:`.schedule`: SGD groups, warm-up +
  cosine LR, freeze plan;
* :mod:`.trainer`, :mod:`.distributed`, :mod:`.checkpoints`: the loop (AMP, accumulation, DDP,
  per-epoch checkpoints in the authors' layout, resume, CSV log);
* :mod:`.config`: :class:`~.config.TrainConfig`; recipes live in ``parameters/train_*.py``.

Command line: ``stmtrack train --recipe got10k --data-root DATA --out RUN`` (see
:mod:`stmtrack_plugin.cli.train`).
"""
