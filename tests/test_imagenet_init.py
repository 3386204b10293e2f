"""ImageNet initialisation from a torchvision-style Inception-v3 file (same keys, random values)."""
import pytest
import torch
from torch import nn

from stmtrack_plugin.model import CheckpointError, build_model, load_imagenet_backbones
from stmtrack_plugin.model.inception import BasicConv2d


def _bc(prefix, i, o, k):
    conv = BasicConv2d(i, o, kernel_size=k)
    return {f"{prefix}.{n}": t for n, t in conv.state_dict().items()}


def torchvision_like_state(model):
    """Every key torchvision's inception_v3 file has up to Mixed_6e (taken from our trunk, which
    uses torchvision's names), plus the later layers we must ignore, with random values and
    without BN counters (as in the Google-converted file)."""
    torch.manual_seed(3)
    state = {}
    for key, value in model.basemodel_q.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        state[key] = torch.randn_like(value) if value.is_floating_point() else value
    # the parts past Mixed_6e (shapes as in torchvision; values irrelevant)
    state.update(_bc("Mixed_7a.branch3x3_1", 768, 192, 1))
    state.update(_bc("Mixed_7b.branch1x1", 1280, 320, 1))
    state.update(_bc("AuxLogits.conv0", 768, 128, 1))
    state.update({f"fc.{k}": v for k, v in nn.Linear(2048, 1000).state_dict().items()})
    return state


def test_loads_both_trunks_and_reports(tmp_path):
    model = build_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    file_state = torchvision_like_state(model)
    path = tmp_path / "inception_v3_google-0cc3c7bd.pth"
    torch.save(file_state, path)
    report = load_imagenet_backbones(model, path)
    after = model.state_dict()
    for key, value in file_state.items():
        if key.startswith(("Mixed_7", "AuxLogits", "fc.")):
            assert key in report.ignored
            continue
        assert key in report.loaded
        assert torch.equal(after[f"basemodel_m.{key}"], value)
        assert torch.equal(after[f"basemodel_q.{key}"], value)
    assert "basemodel_m.proj_fg_bg_label_map.weight" in report.kept_init
    for untouched in ("basemodel_m.proj_fg_bg_label_map.weight", "neck_m.adjustor.weight", "head.si",
                      "head.cls_ctr.conv1.weight"):
        assert torch.equal(after[untouched], before[untouched])
    assert "ImageNet init" in report.summary()


def test_shape_mismatch_is_an_error(tmp_path, tiny_model_config):
    torch.save(torchvision_like_state(build_model()), tmp_path / "inc.pth")
    with pytest.raises(CheckpointError, match="wrongly shaped"):
        load_imagenet_backbones(build_model(tiny_model_config), tmp_path / "inc.pth")


def test_missing_trunk_weight_is_an_error(tmp_path):
    model = build_model()
    state = torchvision_like_state(model)
    del state["Mixed_6e.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "inc.pth")
    with pytest.raises(CheckpointError, match="Mixed_6e.branch_pool.conv.weight"):
        load_imagenet_backbones(model, tmp_path / "inc.pth")
