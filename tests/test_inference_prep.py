"""The exact fast path: ``prepare_for_inference`` (BN folded, channels-last) against the authors'
fixtures with the parity tolerances, for both trunks, and its guards."""
import numpy as np
import pytest
import torch

from parity_env import environment_differs, version_mismatches
from stmtrack_plugin.model import build_model, load_checkpoint, memory_read
from stmtrack_plugin.model.inference import (OneDnnConv1x1, PackedConv, fold_batchnorms,
                                             prepare_for_inference)
from stmtrack_plugin.model.random_weights import randomize_model
from stmtrack_plugin.model.trunks import model_config_for
from test_parity_forward import ATOL, BOX_ATOL, RTOL, _inputs
from test_parity_track import run_fixture

LITE = model_config_for("efficientnet_lite0", width_mult=0.125, neck_channels=16, head_channels=16,
                        head_num_convs=2)


@pytest.fixture(scope="module")
def prepared_seed0(seed0_weights):
    model = build_model()
    load_checkpoint(model, seed0_weights)
    return prepare_for_inference(model.eval())


def test_prepared_model_has_no_batchnorm_and_packed_fused_convs(prepared_seed0):
    m = prepared_seed0
    live = [(n, x) for n, x in m.named_modules() if not n.startswith(("r_z_k", "c_z_k", "r_x", "c_x"))]
    assert not any(isinstance(x, (torch.nn.BatchNorm2d, torch.nn.Conv2d)) for _, x in live)
    block = m.basemodel_q.Mixed_6e.branch7x7dbl_2
    assert isinstance(block, PackedConv) and block.act == "relu" and block.bias is not None
    assert block.weight.is_contiguous(memory_format=torch.channels_last)
    assert isinstance(m.neck_q.adjustor, PackedConv) and m.neck_q.adjustor.act == "none"
    assert m.inference_dtype == torch.float32
    with pytest.raises(RuntimeError, match="already prepared"):
        prepare_for_inference(m)


def test_unpacked_preparation_routes_1x1_convs_through_onednn(tiny_model_config):
    m = prepare_for_inference(build_model(tiny_model_config).eval(), pack=False)
    assert isinstance(m.basemodel_m.Mixed_5b.branch1x1.conv, OneDnnConv1x1)
    assert type(m.basemodel_m.Mixed_5b.branch5x5_2.conv) is torch.nn.Conv2d
    assert isinstance(m.basemodel_m.Mixed_5b.branch1x1.bn, torch.nn.Identity)


@pytest.mark.torch_threads(2)
@pytest.mark.parametrize("T", [3, 6])
def test_prepared_forward_matches_authors(shared_dir, prepared_seed0, T):
    if version_mismatches({"torch": "2.13.0"}):
        environment_differs(f"torch {torch.__version__} installed, fixtures made with 2.13.0")
    ref = np.load(shared_dir / "parity" / f"forward_T{T}.npz")
    im_m, label_m, im_q = _inputs(ref)
    m = prepared_seed0
    with torch.inference_mode():
        fm = m.memorize(im_m, label_m)
        fq = m.encode_query(im_q)
        out = m.predict(im_q, fm)
        score, boxes = m.track(im_q, fm)
        ours = {"fm": fm, "fq": fq, "mem_read": memory_read(fm, fq),
                "cls_logits": out.cls_logits, "ctr_logits": out.ctr_logits, "score": score[..., None]}
    for key, value in ours.items():
        np.testing.assert_allclose(value.numpy(), ref[key], rtol=RTOL, atol=ATOL, err_msg=key)
    np.testing.assert_allclose(boxes.numpy(), ref["bbox_xyxy"], rtol=0, atol=BOX_ATOL)


@pytest.mark.torch_threads(2)
def test_prepared_seeded_parity_short(shared_dir, sequences_dir):
    torch.manual_seed(0)
    model = prepare_for_inference(randomize_model(build_model(), seed=0).eval())
    sizes = run_fixture("synth__vot", model, shared_dir, sequences_dir, max_frames=9)
    assert sizes == [1, 2, 3, 4, 5, 5, 5, 6]


def test_lite_trunk_prepared_gives_the_same_outputs():
    model = randomize_model(build_model(LITE), seed=1).eval()
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(2, 3, 193, 193, generator=g) * 255
    labels = (torch.rand(2, 1, 193, 193, generator=g) > 0.5).float()
    query = torch.rand(1, 3, 193, 193, generator=g) * 255
    with torch.inference_mode():
        ref = model.track(query, model.memorize(frames, labels))
        n_bn = sum(isinstance(x, torch.nn.BatchNorm2d) for x in model.modules())
        prepare_for_inference(model)
        assert n_bn > 20 and sum(isinstance(x, torch.nn.BatchNorm2d) for x in model.modules()) == 4  # legacy blocks
        out = model.track(query, model.memorize(frames, labels))
    torch.testing.assert_close(out[0], ref[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out[1], ref[1], rtol=0, atol=1e-3)


def test_fold_needs_eval_mode(tiny_model_config):
    model = build_model(tiny_model_config).train()
    with pytest.raises(RuntimeError, match="eval mode"):
        fold_batchnorms(model)
