"""End to end on CPU: the tiny recipe trains, resumes, runs under 2-process gloo DDP, and its
checkpoint loads into the model and tracks. Data: shared sequences arranged as GOT-10k + LaSOT."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from stmtrack_plugin.cli.main import main
from stmtrack_plugin.training.checkpoints import read_log
from stmtrack_plugin.training.config import load_recipe
from stmtrack_plugin.training.trainer import build_training_model
from training_data import arrange_training_data


@pytest.fixture(scope="module")
def data_root(sequences_dir, tmp_path_factory):
    return arrange_training_data(sequences_dir, tmp_path_factory.mktemp("train-data"), max_frames=60)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Private index cache (one torch thread comes from conftest)."""
    monkeypatch.setenv("STMTRACK_CACHE", str(tmp_path / "cache"))


def train(data_root, out, *extra, expect=0):
    argv = ["train", "--recipe", "tiny", "--data-root", str(data_root), "--out", str(out),
            "--device", "cpu", "--no-progress", *extra]
    assert main(argv) == expect


def state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_tiny_recipe_loss_goes_down_and_checkpoint_tracks(data_root, tmp_path):
    out = tmp_path / "run"
    # one fixed batch of 2 positive samples, 24 epochs of 1 step: the model must fit it
    train(data_root, out, "--epochs", "24", "--pairs-per-epoch", "2",
          "--set", "resample_each_epoch=False", "--set", "negative_ratio=0.0")
    rows = read_log(out / "train_log.csv")
    assert len(rows) == 24 and [r["global_step"] for r in rows] == list(range(24))
    losses = [r["loss"] for r in rows]
    assert all(np.isfinite(losses))
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert last < 0.7 * first, losses
    assert rows[-1]["lr"] < rows[1]["lr"]  # the cosine schedule ran
    for e in range(24):
        ckpt = state(out / f"epoch-{e}.pkl")
        assert ckpt["epoch"] == e and "optimizer_state_dict" in ckpt
        assert not any(k.startswith("module.") for k in ckpt["model_state_dict"])
    final = state(out / "final_model.pkl")
    assert "optimizer_state_dict" not in final
    assert (out / "train_log.png").stat().st_size > 10_000  # loss / LR curves
    # freeze plan: backbone convs frozen in epoch 0 (unfreeze_epoch = 1), early convs always
    init = build_training_model(load_recipe("tiny"), torch.device("cpu")).state_dict()
    epoch0 = state(out / "epoch-0.pkl")["model_state_dict"]
    late, early = "basemodel_m.Mixed_6e.branch1x1.conv.weight", "basemodel_q.Conv2d_1a_3x3.conv.weight"
    head = "head.cls_score.conv.weight"
    assert torch.equal(init[late], epoch0[late])
    assert not torch.equal(epoch0[late], final["model_state_dict"][late])
    assert torch.equal(init[early], final["model_state_dict"][early])
    assert not torch.equal(init[head], epoch0[head])
    _track_with_checkpoint(out / "final_model.pkl", data_root)


def _track_with_checkpoint(path, data_root):
    """The saved file loads strictly into a fresh model; memorize + track give sane outputs."""
    from stmtrack_plugin.model import build_model_from_checkpoint
    from stmtrack_plugin.training.transforms import box_to_crop, crop_resize, fg_bg_label_map
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    model = build_model_from_checkpoint(str(path))
    seq = load_otb_sequence(data_root / "lasot" / "car" / "car-1")
    x, y, w, h = seq.groundtruth[0]
    side = 4.0 * float(np.sqrt(w * h))
    x0, y0 = x + (w - 1) / 2 - side / 2, y + (h - 1) / 2 - side / 2
    frames, labels = [], []
    for i in range(3):
        frames.append(crop_resize(read_image_bgr(seq.frames[i]), x0, y0, side, 129))
        labels.append(fg_bg_label_map(box_to_crop(seq.groundtruth[i], x0, y0, side, 129), 129))
    to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))).float()
    with torch.inference_mode():
        fg_bg = torch.from_numpy(np.stack(labels))[:, None]
        memory = model.memorize(to_tensor(np.stack(frames)), fg_bg)
        query = crop_resize(read_image_bgr(seq.frames[5]), x0, y0, side, 129)
        score, boxes = model.track(to_tensor(query[None]), memory)
    assert score.shape == (1, 25) and boxes.shape == (1, 25, 4)
    assert torch.isfinite(score).all() and torch.isfinite(boxes).all()
    assert (score > 0).all() and (score < 1).all() and float(score.std()) > 0


def test_resume_continues_exactly(data_root, tmp_path, capsys):
    args = ("--pairs-per-epoch", "4")
    train(data_root, tmp_path / "straight", "--epochs", "2", *args)
    train(data_root, tmp_path / "split", "--epochs", "1", *args)
    train(data_root, tmp_path / "split", "--epochs", "2", *args, expect=2)  # never overwrite a run
    assert "pass --resume" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="changed settings: epochs"):
        train(data_root, tmp_path / "split", "--epochs", "2", "--resume", *args)
    rows = read_log(tmp_path / "split" / "train_log.csv")
    assert [(r["epoch"], r["step"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    resumed = state(tmp_path / "split" / "epoch-1.pkl")
    straight = state(tmp_path / "straight" / "epoch-1.pkl")
    assert resumed["epoch"] == 1
    for key, value in straight["model_state_dict"].items():
        assert torch.allclose(value.float(), resumed["model_state_dict"][key].float(), atol=1e-5), key
    momentum = resumed["optimizer_state_dict"]["state"]
    assert momentum and all("momentum_buffer" in s for s in momentum.values())
    straight_rows = read_log(tmp_path / "straight" / "train_log.csv")
    assert np.allclose([r["loss"] for r in rows], [r["loss"] for r in straight_rows], rtol=1e-4)


def test_two_process_gloo_ddp(data_root, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", STMTRACK_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "stmtrack_plugin.cli.main", "train", "--recipe", "tiny", "--data-root",
           str(data_root), "--out", str(out), "--device", "cpu", "--no-progress", "--epochs", "2",
           "--pairs-per-epoch", "8", "--set", "reference_batch=4"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads((out / "run_info.json").read_text())
    assert (info["world_size"], info["accum_steps"], info["effective_batch"]) == (2, 1, 4)
    assert info["steps_per_epoch"] == 2 and info["lr_scale"] == 1.0
    rows = read_log(out / "train_log.csv")
    assert len(rows) == 4 and all(np.isfinite(r["loss"]) for r in rows)  # rank 0 logs only
    assert state(out / "epoch-1.pkl")["epoch"] == 1 and (out / "final_model.pkl").is_file()


def test_cli_errors_are_clear(data_root, tmp_path, capsys):
    train(tmp_path / "nowhere", tmp_path / "o1", expect=2)
    assert "GOT-10k root not found" in capsys.readouterr().err
    train(data_root, tmp_path / "o2", "--set", "no_such_field=1", expect=2)
    assert "unknown TrainConfig key(s): no_such_field" in capsys.readouterr().err
    train(data_root, tmp_path / "o3", "--resume", expect=2)
    assert "no epoch-<e>.pkl checkpoint" in capsys.readouterr().err


def test_cli_overrides():
    from stmtrack_plugin.cli.main import build_parser
    from stmtrack_plugin.cli.train import build_config

    args = build_parser({"train"}).parse_args(
        ["train", "--recipe", "got10k", "--data-root", "d", "--out", "o", "--batch-size", "4",
         "--accum", "2", "--no-scale-lr", "--amp", "--set", "authors_sampler_bug=True",
         "--set", "area_rate_range=(0.01, 0.5)"])
    cfg = build_config(args)
    assert (cfg.batch_per_device, cfg.accum_steps, cfg.scale_lr, cfg.amp) == (4, 2, False, True)
    assert cfg.authors_sampler_bug is True and cfg.area_rate_range == (0.01, 0.5)
    assert cfg.epochs == 20  # untouched recipe values


def test_pretrained_backbones_are_loaded_and_frozen(data_root, tmp_path, capsys):
    """--pretrained copies a torchvision-layout file into both trunks (here: a 1/8-width one)."""
    cfg = load_recipe("tiny")
    donor = build_training_model(cfg, torch.device("cpu"))
    with torch.no_grad():
        for p in donor.basemodel_q.parameters():
            p.add_(0.5)
    file_state = {k: v for k, v in donor.basemodel_q.state_dict().items()}
    torch.save(file_state, tmp_path / "inception_v3_tiny.pth")
    train(data_root, tmp_path / "run", "--epochs", "1", "--pairs-per-epoch", "2",
          "--pretrained", str(tmp_path / "inception_v3_tiny.pth"))
    assert "ImageNet init" in capsys.readouterr().out
    trained = state(tmp_path / "run" / "epoch-0.pkl")["model_state_dict"]
    for trunk in ("basemodel_m", "basemodel_q"):
        for layer in ("Conv2d_1a_3x3", "Mixed_6e.branch1x1"):  # frozen in epoch 0
            key = f"{layer}.conv.weight"
            assert torch.equal(trained[f"{trunk}.{key}"], file_state[key]), (trunk, key)
    train(data_root, tmp_path / "run2", "--pretrained", str(tmp_path / "missing.pth"), expect=2)
    assert "pretrained backbone file not found" in capsys.readouterr().err


def test_trained_checkpoint_loads_into_the_tracker_and_tracks(data_root, tmp_path):
    from stmtrack_plugin.config import TrackerParams
    from stmtrack_plugin.tracking import STMTracker
    from stmtrack_plugin.utils.io import read_image_bgr
    from stmtrack_plugin.utils.sequences import load_otb_sequence

    train(data_root, tmp_path / "run", "--epochs", "1", "--pairs-per-epoch", "2")
    params = TrackerParams(crop_size=129, model=load_recipe("tiny").model)
    tracker = STMTracker.from_params(params, weights=str(tmp_path / "run" / "epoch-0.pkl"))
    seq = load_otb_sequence(data_root / "got10k" / "train" / "GOT-10k_Train_Couple")
    tracker.initialize(read_image_bgr(seq.frames[0]), seq.groundtruth[0])
    height, width = read_image_bgr(seq.frames[0]).shape[:2]
    for frame in seq.frames[1:8]:
        result = tracker.track(read_image_bgr(frame))
        x, y, w, h = result.box
        assert np.isfinite([x, y, w, h, result.score]).all() and 0 <= result.score <= 1
        assert 0 <= x + w / 2 <= width and 0 <= y + h / 2 <= height and w >= 10 and h >= 10


@pytest.mark.parametrize("device,message", [("gpu0", "--device 'gpu0' is not a torch device"),
                                            ("cuda:7", "--device cuda:7: ")])
def test_bad_device_is_a_one_line_error(device, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)  # cuda:7 fails, with CUDA or not
    train(tmp_path, tmp_path / "out", "--device", device, expect=2)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
