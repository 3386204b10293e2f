"""The three STMTrack losses (SPEC §3) and their weighted sum.

Shapes: logits and targets are (B, K, 1), boxes (B, K, 4) xyxy in crop pixels. Targets come from
:func:`stmtrack_plugin.training.targets.make_densebox_target` (cls: 1 positive, 0 negative,
-1 ignored).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, cls_gt: torch.Tensor, alpha: float = 0.75,
                       gamma: float = 2.0, normalizer: Optional[float] = None) -> torch.Tensor:
    """Focal loss summed over non-ignored cells, divided by max(#positive cells, 1).

    ``normalizer`` replaces that count (see :func:`stmtrack_loss`).

    Per cell with p = sigmoid(logit): positives add -alpha (1-p)^gamma log p, negatives
    -(1-alpha) p^gamma log(1-p); cells with label -1 add nothing.
    """
    logits, cls_gt = logits.float(), cls_gt.float()
    valid = (cls_gt != -1).float()
    pos = (cls_gt == 1).float()
    p = torch.sigmoid(logits)
    pos_term = -alpha * (1 - p).pow(gamma) * F.logsigmoid(logits)
    neg_term = -(1 - alpha) * p.pow(gamma) * F.logsigmoid(-logits)
    loss = (pos * pos_term + (1 - pos) * neg_term) * valid
    return loss.sum() / _count(pos, normalizer)


def _count(mask: torch.Tensor, normalizer: Optional[float]):
    return mask.sum().clamp(min=1.0) if normalizer is None else max(float(normalizer), 1.0)


def centerness_loss(logits: torch.Tensor, ctr_gt: torch.Tensor, mask: torch.Tensor,
                    normalizer: Optional[float] = None) -> torch.Tensor:
    """BCE-with-logits minus the label's entropy, averaged over ``mask`` cells (0 if none).

    Subtracting the entropy makes the loss 0 at a perfect prediction.
    """
    logits, ctr_gt, mask = logits.float(), ctr_gt.float(), mask.float()
    bce = F.binary_cross_entropy_with_logits(logits, ctr_gt, reduction="none")
    entropy = F.binary_cross_entropy(ctr_gt, ctr_gt, reduction="none")
    return ((bce - entropy) * mask).sum() / _count(mask, normalizer)


def iou_loss(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor, mask: torch.Tensor,
             eps: float = 1e-6, normalizer: Optional[float] = None) -> torch.Tensor:
    """-log IoU with "+1" areas ((x2 - x1 + 1) * (y2 - y1 + 1)), averaged over ``mask`` cells.

    ``mask`` is (B, K, 1) or (B, K).
    """
    pred, gt = pred_xyxy.float(), gt_xyxy.float()
    mask = mask.float().reshape(pred.shape[:-1])
    area_p = (pred[..., 2] - pred[..., 0] + 1).abs() * (pred[..., 3] - pred[..., 1] + 1).abs()
    area_g = (gt[..., 2] - gt[..., 0] + 1).abs() * (gt[..., 3] - gt[..., 1] + 1).abs()
    iw = torch.min(pred[..., 2], gt[..., 2]) - torch.max(pred[..., 0], gt[..., 0]) + 1
    ih = torch.min(pred[..., 3], gt[..., 3]) - torch.max(pred[..., 1], gt[..., 1]) + 1
    inter = iw.clamp(min=0) * ih.clamp(min=0)
    iou = (inter / (area_p + area_g - inter)).clamp(min=0)
    loss = -torch.log(iou + eps)
    return (loss * mask).sum() / _count(mask, normalizer)


def stmtrack_loss(cls_logits: torch.Tensor, ctr_logits: torch.Tensor, boxes: torch.Tensor,
                  cls_gt: torch.Tensor, ctr_gt: torch.Tensor, box_gt: torch.Tensor,
                  weights=(1.0, 1.0, 3.0), alpha: float = 0.75, gamma: float = 2.0,
                  authors_centerness_bug: bool = False,
                  normalizers: Optional[Tuple[float, float]] = None
                  ) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Weighted total loss and its parts (as floats, already weighted).

    The centerness and IoU losses use the positive cells (cls_gt == 1). With
    ``authors_centerness_bug`` the centerness mask is ``ctr_gt != 0`` instead, which also covers
    the in-box cells of negative pairs.

    ``normalizers = (positive cells, centerness cells)`` counted over a larger batch (all
    micro-batches and processes of one optimiser step, see :func:`loss_normalizers`) make the
    sum of the micro-batch losses equal the loss of that whole batch, as the authors compute it
    on the gathered DataParallel batch. Default: this batch's own counts.
    """
    positive = (cls_gt == 1)
    ctr_mask = (ctr_gt != 0) if authors_centerness_bug else positive
    n_pos, n_ctr = (None, None) if normalizers is None else normalizers
    parts = {
        "cls": weights[0] * sigmoid_focal_loss(cls_logits, cls_gt, alpha, gamma, n_pos),
        "ctr": weights[1] * centerness_loss(ctr_logits, ctr_gt, ctr_mask, n_ctr),
        "iou": weights[2] * iou_loss(boxes, box_gt, positive, normalizer=n_pos),
    }
    total = parts["cls"] + parts["ctr"] + parts["iou"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def loss_normalizers(cls_gt: torch.Tensor, ctr_gt: torch.Tensor,
                     authors_centerness_bug: bool = False) -> torch.Tensor:
    """(2,) float64 counts ``[positive cells, centerness cells]`` of a batch's targets."""
    ctr_mask = (ctr_gt != 0) if authors_centerness_bug else (cls_gt == 1)
    return torch.stack([(cls_gt == 1).sum(), ctr_mask.sum()]).to(torch.float64)
