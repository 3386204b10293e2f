"""Losses against hand-computed values (SPEC §3: focal 0.75/2, centerness BCE - entropy, -log IoU)."""
import math

import pytest
import torch

from stmtrack_plugin.training.losses import (centerness_loss, iou_loss, sigmoid_focal_loss,
                                             stmtrack_loss)


def col(*values):
    return torch.tensor(values, dtype=torch.float32).reshape(1, -1, 1)


def test_focal_loss_hand_computed():
    # p = 0.5 positive, p = 0.75 negative, p = 0.25 ignored; one positive -> divide by 1
    logits = col(0.0, math.log(3.0), -math.log(3.0))
    labels = col(1.0, 0.0, -1.0)
    pos = 0.75 * 0.5 ** 2 * math.log(2.0)  # -alpha (1-p)^2 log p
    neg = 0.25 * 0.75 ** 2 * math.log(4.0)  # -(1-alpha) p^2 log(1-p)
    assert float(sigmoid_focal_loss(logits, labels)) == pytest.approx(pos + neg, rel=1e-5)


def test_focal_loss_normalised_by_positive_count_and_at_least_one():
    logits = col(0.0, 0.0, 0.0)
    two_pos = sigmoid_focal_loss(logits, col(1.0, 1.0, 0.0))
    expected = (2 * 0.75 * 0.25 * math.log(2) + 0.25 * 0.25 * math.log(2)) / 2
    assert float(two_pos) == pytest.approx(expected, rel=1e-5)
    no_pos = sigmoid_focal_loss(logits, col(0.0, -1.0, -1.0))  # divided by max(0, 1) = 1
    assert float(no_pos) == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-5)


def test_centerness_loss_is_bce_minus_entropy():
    logits, target = col(0.0, 0.0, 5.0), col(0.5, 1.0, 0.3)
    mask = col(1.0, 1.0, 0.0)
    # cell 0: ln2 - ln2 = 0; cell 1: ln2 - 0; cell 2 masked; mean over 2 cells
    assert float(centerness_loss(logits, target, mask)) == pytest.approx(math.log(2) / 2, rel=1e-5)
    assert float(centerness_loss(logits, target, col(0.0, 0.0, 0.0))) == 0.0


def test_iou_loss_plus_one_areas():
    pred = torch.tensor([[[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 9.0, 9.0], [0, 0, 1, 1]]])
    gt = torch.tensor([[[0.0, 0.0, 9.0, 9.0], [5.0, 0.0, 14.0, 9.0], [50, 50, 60, 60]]])
    # cell 0: IoU 1; cell 1: areas 100 + 100, intersection 5 x 10 -> IoU 1/3; cell 2 masked
    loss = iou_loss(pred, gt, col(1.0, 1.0, 0.0))
    assert float(loss) == pytest.approx((-math.log(1 + 1e-6) - math.log(1 / 3 + 1e-6)) / 2, rel=1e-5)
    disjoint = iou_loss(pred[:, 2:], gt[:, 2:], col(1.0))
    assert float(disjoint) == pytest.approx(-math.log(1e-6), rel=1e-5)


def test_stmtrack_loss_weights_and_centerness_mask():
    cls_logits, ctr_logits = col(0.0, 0.0), col(0.0, 0.0)
    boxes = torch.tensor([[[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 9.0, 9.0]]])
    box_gt = torch.tensor([[[5.0, 0.0, 14.0, 9.0], [5.0, 0.0, 14.0, 9.0]]])
    # a negative pair: in-box cell labelled 0 with non-zero centerness, the other ignored
    cls_gt, ctr_gt = col(0.0, -1.0), col(0.8, 0.0)
    total, parts = stmtrack_loss(cls_logits, ctr_logits, boxes, cls_gt, ctr_gt, box_gt)
    assert parts["ctr"] == 0.0 and parts["iou"] == 0.0
    assert parts["cls"] == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-5)
    _, buggy = stmtrack_loss(cls_logits, ctr_logits, boxes, cls_gt, ctr_gt, box_gt,
                             authors_centerness_bug=True)
    entropy = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    assert buggy["ctr"] == pytest.approx(math.log(2) - entropy, rel=1e-5)
    # positive cell: weights 1 / 1 / 3
    total, parts = stmtrack_loss(cls_logits[:, :1], ctr_logits[:, :1], boxes[:, :1], col(1.0),
                                 col(1.0), box_gt[:, :1], weights=(1.0, 1.0, 3.0))
    assert parts["iou"] == pytest.approx(3 * -math.log(1 / 3 + 1e-6), rel=1e-5)
    assert parts["ctr"] == pytest.approx(math.log(2), rel=1e-5)
    assert float(total) == pytest.approx(sum(parts.values()), rel=1e-6)


@pytest.mark.parametrize("bug", [False, True])
def test_micro_batch_losses_add_up_to_the_whole_batch_loss(bug):
    from stmtrack_plugin.training.losses import loss_normalizers

    g = torch.Generator().manual_seed(0)
    b, k = 4, 25
    cls_logits, ctr_logits = torch.randn(b, k, 1, generator=g), torch.randn(b, k, 1, generator=g)
    boxes = torch.rand(b, k, 4, generator=g) * 20 + torch.tensor([0.0, 0.0, 30.0, 30.0])
    cls_gt = torch.randint(-1, 2, (b, k, 1), generator=g).float()
    cls_gt[0] = 0.0  # a micro-batch without positives still normalises by the whole batch
    ctr_gt = torch.rand(b, k, 1, generator=g) * (cls_gt != -1)
    box_gt = torch.tensor([5.0, 5.0, 40.0, 45.0]).expand(b, k, 4)
    args = (cls_logits, ctr_logits, boxes, cls_gt, ctr_gt, box_gt)
    whole, whole_parts = stmtrack_loss(*args, authors_centerness_bug=bug)
    counts = loss_normalizers(cls_gt, ctr_gt, bug)
    total = 0.0
    for half in (slice(0, 1), slice(1, 4)):
        part, _ = stmtrack_loss(*(a[half] for a in args), authors_centerness_bug=bug,
                                normalizers=tuple(float(c) for c in counts))
        total += float(part)
    assert total == pytest.approx(float(whole), rel=1e-5)
