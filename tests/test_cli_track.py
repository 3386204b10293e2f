"""``stmtrack track`` end to end with a tiny seeded model (crop 129, 5x5 score map) on real frames."""
import shutil

import cv2
import numpy as np
import pytest

from stmtrack_plugin.cli.main import main
from stmtrack_plugin.config import ModelConfig

TINY = ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from stmtrack_plugin.model import build_model, save_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model

    path = tmp_path_factory.mktemp("weights") / "tiny.pkl"
    save_checkpoint(randomize_model(build_model(TINY), seed=0), str(path))
    return str(path)


def _lines(path):
    return [[float(v) for v in line.split(",")] for line in path.read_text().splitlines()]


def test_sequence_folder_uses_its_ground_truth(tiny_weights, sequences_dir, tmp_path, capsys):
    out = tmp_path / "res" / "crossing.txt"
    rc = main(["track", str(sequences_dir / "Crossing"), "--weights", tiny_weights,
               "--set", "crop_size=129", "--out", str(out), "--max-frames", "6", "--no-progress"])
    assert rc == 0
    rows = _lines(out)
    assert len(rows) == 6 and rows[0] == [205.0, 151.0, 17.0, 50.0]  # GT line 1, unchanged
    assert all(np.isfinite(r).all() and r[2] >= 10 and r[3] >= 10 for r in rows[1:])
    printed = capsys.readouterr().out
    assert "Crossing: 6 frames" in printed and "success AUC" in printed and "precision@20" in printed


def test_frame_folder_with_box_writes_annotated_frames(tiny_weights, sequences_dir, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(1, 5):
        shutil.copy(sequences_dir / "Couple" / "img" / f"{i:04d}.jpg", frames / f"f{i}.jpg")
    rc = main(["track", str(frames), "--box", "51,47,25,62", "--weights", tiny_weights,
               "--set", "crop_size=129", "--frames-out", str(tmp_path / "ann"), "--no-progress"])
    assert rc == 0
    stdout = capsys.readouterr().out.splitlines()
    assert len(stdout) == 4 and stdout[0] == "51.0000,47.0000,25.0000,62.0000"
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 5)]


def test_video_file_with_gt_file_and_annotated_video(tiny_weights, sequences_dir, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    first = cv2.imread(str(sequences_dir / "Crossing" / "img" / "0001.jpg"))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (first.shape[1], first.shape[0]))
    for i in range(1, 5):
        writer.write(cv2.imread(str(sequences_dir / "Crossing" / "img" / f"{i:04d}.jpg")))
    writer.release()
    gt = tmp_path / "gt.txt"
    gt.write_text((sequences_dir / "Crossing" / "groundtruth_rect.txt").read_text())
    out = tmp_path / "out.txt"
    rc = main(["track", str(video), "--gt", str(gt), "--weights", tiny_weights, "--set",
               "crop_size=129", "--out", str(out), "--video", str(tmp_path / "ann.mp4"),
               "--no-progress"])
    assert rc == 0 and len(_lines(out)) == 4
    cap = cv2.VideoCapture(str(tmp_path / "ann.mp4"))
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    cap.release()
    assert "warning: ground truth has" not in capsys.readouterr().err  # 120 boxes, 4 frames: scored 4


def test_video_sequence_folder_uses_its_ground_truth(tiny_weights, shared_dir, tmp_path, capsys):
    """The layout of ``../shared/data/train`` (``video.mp4`` + ``groundtruth_rect.txt``, no
    ``img/``): the folder is the sequence, its boxes give the init box and the score."""
    src = shared_dir / "data" / "train" / "otb_Skiing"
    seq = tmp_path / "otb_Skiing"
    seq.mkdir()
    (seq / "video.mp4").symlink_to(src / "video.mp4")
    (seq / "groundtruth_rect.txt").symlink_to(src / "groundtruth_rect.txt")
    out = tmp_path / "skiing.txt"
    rc = main(["track", str(seq), "--weights", tiny_weights, "--set", "crop_size=129",
               "--out", str(out), "--max-frames", "5", "--no-progress"])
    assert rc == 0
    rows = _lines(out)
    assert len(rows) == 5 and rows[0] == [446.0, 181.0, 29.0, 26.0]  # its first box line
    assert "otb_Skiing: 5 frames" in capsys.readouterr().out


@pytest.mark.parametrize("extra,message", [
    (["--weights", "/nonexistent/w.pkl"], "does not exist"),
    (["--box", "1,2,3"], "4 numbers"),
    (["--box", "10,10,0,5"], "width and height must be > 0"),
    (["--set", "window_influnce=0.3"], "unknown TrackerParams key"),
    (["--params", "nope"], "no parameter file named 'nope'"),
])
def test_errors_are_reported_cleanly(extra, message, tiny_weights, sequences_dir, capsys):
    args = ["track", str(sequences_dir / "Crossing"), "--set", "crop_size=129", "--no-progress",
            "--max-frames", "2"]
    if "--weights" not in extra:
        args += ["--weights", tiny_weights]
    assert main(args + extra) == 2
    assert message in capsys.readouterr().err


def test_no_init_box_for_a_plain_folder(tiny_weights, sequences_dir, tmp_path, capsys):
    folder = tmp_path / "plain"
    folder.mkdir()
    shutil.copy(sequences_dir / "Couple" / "img" / "0001.jpg", folder / "a.jpg")
    assert main(["track", str(folder), "--weights", tiny_weights, "--no-progress"]) == 2
    assert "no init box" in capsys.readouterr().err


def test_missing_source(tiny_weights, capsys):
    assert main(["track", "/nonexistent/clip.mp4", "--weights", tiny_weights]) == 2
    assert "no such video file or frame folder" in capsys.readouterr().err


def test_interrupt_keeps_the_frames_tracked_so_far(tiny_weights, sequences_dir, tmp_path,
                                                   monkeypatch):
    from stmtrack_plugin.tracking import STMTracker

    real_track = STMTracker.track

    def track_then_interrupt(self, image):
        if self._state.frame_index >= 2:
            raise KeyboardInterrupt
        return real_track(self, image)

    monkeypatch.setattr(STMTracker, "track", track_then_interrupt)
    out = tmp_path / "partial.txt"
    rc = main(["track", str(sequences_dir / "Crossing"), "--weights", tiny_weights,
               "--set", "crop_size=129", "--out", str(out), "--no-progress"])
    assert rc == 130 and len(_lines(out)) == 3  # init box + frames 1 and 2


@pytest.mark.parametrize("extra,message", [
    (["--box", "0,0,1e6,1e6"], "too large for the 360x240 frame"),
    (["--box", "0,0,1e20,1e20"], "too large"),
    (["--box", "0,0,1e39,1e39"], "too large"),
    (["--set", "window_influence=abc"], "TrackerParams.window_influence must be float, got 'abc'"),
    (["--set", "window_influence=NaN"], "window_influence must be finite"),
    (["--set", "test_lr=Infinity"], "test_lr must be finite"),
    (["--device", "gpu0"], "--device 'gpu0' is not a torch device"),
])
def test_untrusted_values_give_one_line_errors(extra, message, tiny_weights, sequences_dir, capsys):
    args = ["track", str(sequences_dir / "Crossing"), "--set", "crop_size=129", "--no-progress",
            "--max-frames", "2", "--weights", tiny_weights, "--out", "-"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_huge_ground_truth_box_is_refused(tiny_weights, sequences_dir, tmp_path, capsys):
    gt = tmp_path / "gt.txt"
    gt.write_text("0,0,1e20,1e20\n")
    assert main(["track", str(sequences_dir / "Crossing"), "--gt", str(gt), "--weights",
                 tiny_weights, "--set", "crop_size=129", "--no-progress", "--max-frames", "2"]) == 2
    assert "too large" in capsys.readouterr().err


def test_cuda_device_without_cuda_is_a_clear_error(tiny_weights, sequences_dir, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        assert main(["track", str(sequences_dir / "Crossing"), "--weights", tiny_weights,
                     "--no-progress", "--max-frames", "2", "--device", device]) == 2
        err = capsys.readouterr().err
        assert "CUDA is not available" in err and "Traceback" not in err
