"""``TrackerParams.compute_dtype``: the opt-in bfloat16 network against float32 on a real clip,
for both trunks, and its validation."""
import numpy as np
import pytest
import torch

from stmtrack_plugin.config import TrackerParams, load_parameters
from stmtrack_plugin.model import build_model, save_checkpoint
from stmtrack_plugin.model.inference import prepare_for_inference
from stmtrack_plugin.model.random_weights import randomize_model
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.tracking import STMTracker
from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import load_otb_sequence


def _iou(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    x0, y0 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x1 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y1 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def _run(tracker, seq, frames):
    tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
    return [tracker.track(read_image_bgr(seq.frames[k])) for k in range(1, frames)]


def test_compute_dtype_is_validated():
    assert TrackerParams().compute_dtype == "float32"
    assert load_parameters("otb", compute_dtype="bfloat16").compute_dtype == "bfloat16"
    for bad in ("float16", "int8", 16):
        with pytest.raises(ValueError, match="compute_dtype"):
            TrackerParams(compute_dtype=bad)


def test_bfloat16_tracks_like_float32_on_a_real_clip(sequences_dir):
    config = model_config_for("googlenet", width_mult=0.25, neck_channels=32, head_channels=32,
                              head_num_convs=3)
    seq = load_otb_sequence(sequences_dir / "Crossing")
    params = load_parameters("otb", crop_size=161, model=config)
    fp32 = randomize_model(build_model(config), seed=0).eval()
    bf16 = prepare_for_inference(randomize_model(build_model(config), seed=0).eval(), torch.bfloat16)
    assert bf16.neck_q.adjustor.weight.dtype == torch.bfloat16
    ref = _run(STMTracker(prepare_for_inference(fp32), params), seq, 15)
    low = _run(STMTracker(bf16, load_parameters("otb", crop_size=161, model=config,
                                                compute_dtype="bfloat16")), seq, 15)
    assert [r.frame_index for r in low] == list(range(1, 15))
    ref_boxes, low_boxes = np.array([r.box for r in ref]), np.array([r.box for r in low])
    assert np.isfinite(low_boxes).all() and all(isinstance(r.score, float) for r in low)
    assert not np.array_equal(ref_boxes, low_boxes)  # it did run in bfloat16
    assert np.abs(low_boxes - ref_boxes).max() < 3.0
    assert _iou(low_boxes, ref_boxes).mean() >= 0.98


def test_from_params_builds_a_bfloat16_network(tmp_path, sequences_dir, tiny_model_config):
    path = tmp_path / "tiny.pth"
    save_checkpoint(randomize_model(build_model(tiny_model_config), seed=0), path)
    params = load_parameters("otb", crop_size=129, model=tiny_model_config,
                             compute_dtype="bfloat16")
    tracker = STMTracker.from_params(params, str(path))
    assert tracker.model.inference_dtype == torch.bfloat16
    assert tracker.model.head.cls_ctr.conv1.weight.dtype == torch.bfloat16
    assert tracker.model.head.si.dtype == torch.float32  # decoding stays float32
    results = _run(tracker, load_otb_sequence(sequences_dir / "Crossing"), 4)
    assert tracker.memory.get(0).dtype == torch.float32
    assert all(np.isfinite(r.box).all() for r in results)
    exact = STMTracker.from_params(load_parameters("otb", crop_size=129, model=tiny_model_config),
                                   str(path))
    assert exact.model.inference_dtype == torch.float32 and exact.compute_dtype == torch.float32


def test_bfloat16_lite_network_is_close_to_float32():
    """The lite trunk under bfloat16 (its random tiny model does not track, so compare outputs)."""
    config = model_config_for("efficientnet_lite0", width_mult=0.25, neck_channels=32,
                              head_channels=32, head_num_convs=3)
    fp32 = randomize_model(build_model(config), seed=0).eval()
    bf16 = prepare_for_inference(randomize_model(build_model(config), seed=0).eval(), torch.bfloat16)
    g = torch.Generator().manual_seed(0)
    frames, query = torch.rand(2, 3, 193, 193, generator=g) * 255, torch.rand(1, 3, 193, 193, generator=g) * 255
    labels = torch.zeros(2, 1, 193, 193)
    labels[..., 60:130, 70:120] = 1
    with torch.inference_mode():
        fm, fq = fp32.memorize(frames, labels), fp32.encode_query(query)
        score, boxes = fp32.track(query, fm)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low_fm, low_fq = bf16.memorize(frames, labels), bf16.encode_query(query)
            low_score, low_boxes = bf16.track(query, low_fm.float())
    assert low_fm.dtype == low_fq.dtype == torch.bfloat16
    assert low_score.dtype == low_boxes.dtype == torch.float32
    rel = lambda a, b: float((a.float() - b).norm() / b.norm())  # noqa: E731
    assert 0 < rel(low_fm, fm) < 0.02 and 0 < rel(low_fq, fq) < 0.02
    assert rel(low_score, score) < 0.05 and rel(low_boxes, boxes) < 0.05


def test_a_model_prepared_for_another_dtype_is_refused(tiny_model_config):
    model = prepare_for_inference(build_model(tiny_model_config).eval(), torch.bfloat16)
    with pytest.raises(ValueError, match="prepared for torch.bfloat16.*compute_dtype is 'float32'"):
        STMTracker(model, load_parameters("otb", crop_size=129, model=tiny_model_config))
    STMTracker(model, load_parameters("otb", crop_size=129, model=tiny_model_config,
                                      compute_dtype="bfloat16"))
