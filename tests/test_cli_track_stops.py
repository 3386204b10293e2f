"""``stmtrack track`` stopping early keeps what it tracked: a corrupt frame, a frame of another
size, SIGTERM; and an unwritable output fails before any tracking. Tiny seeded model, real frames."""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

import cv2
import pytest

from stmtrack_plugin.cli.main import main
from stmtrack_plugin.config import ModelConfig

TINY = ModelConfig(width_mult=0.125, neck_channels=32, head_channels=32)
BOX = "205,151,17,50"  # Crossing's first ground-truth box


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    from stmtrack_plugin.model import build_model, save_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model

    path = tmp_path_factory.mktemp("weights") / "tiny.pkl"
    save_checkpoint(randomize_model(build_model(TINY), seed=0), str(path))
    return str(path)


def _frames(sequences_dir, folder, n):
    folder.mkdir()
    for i in range(1, n + 1):
        shutil.copy(sequences_dir / "Crossing" / "img" / f"{i:04d}.jpg", folder / f"{i:04d}.jpg")
    return folder


def _track(tiny_weights, frames, out, *extra):
    return main(["track", str(frames), "--box", BOX, "--weights", tiny_weights, "--set",
                 "crop_size=129", "--out", str(out), "--no-progress", *extra])


def _rows(path):
    return path.read_text().splitlines()


def test_corrupt_frame_keeps_the_frames_before_it(tiny_weights, sequences_dir, tmp_path, capsys):
    frames = _frames(sequences_dir, tmp_path / "frames", 6)
    bad = frames / "0004.jpg"
    bad.write_bytes(bad.read_bytes()[:200])  # truncated JPEG
    out = tmp_path / "out.txt"
    assert _track(tiny_weights, frames, out) == 1
    assert len(_rows(out)) == 3
    err = capsys.readouterr().err
    assert "0004.jpg" in err and "wrote the 3 frames tracked before it" in err


def test_frame_size_change_keeps_the_frames_before_it(tiny_weights, sequences_dir, tmp_path,
                                                       capsys):
    frames = _frames(sequences_dir, tmp_path / "frames", 6)
    img = cv2.imread(str(frames / "0003.jpg"))
    cv2.imwrite(str(frames / "0003.jpg"), cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))
    out = tmp_path / "out.txt"
    assert _track(tiny_weights, frames, out) == 1
    assert len(_rows(out)) == 2
    err = capsys.readouterr().err
    assert re.search(r"frame 3 \(.*0003\.jpg\) is 180x120 \(WxH\) but the first frame is 360x240",
                     err)


def test_unwritable_output_fails_before_tracking(tiny_weights, sequences_dir, tmp_path, capsys,
                                                 monkeypatch):
    from stmtrack_plugin.tracking import STMTracker

    def never(self, *args):
        raise AssertionError("tracking started")

    monkeypatch.setattr(STMTracker, "initialize", never)
    frames = _frames(sequences_dir, tmp_path / "frames", 2)
    (tmp_path / "file").write_text("")
    assert _track(tiny_weights, frames, tmp_path / "file" / "out.txt") == 2
    assert "cannot write the results to" in capsys.readouterr().err
    assert _track(tiny_weights, frames, tmp_path / "ok.txt", "--frames-out",
                  str(tmp_path / "file" / "ann")) == 2
    assert "cannot write the annotated frames to" in capsys.readouterr().err


def test_sigterm_keeps_the_frames_tracked_so_far(tiny_weights, sequences_dir, tmp_path):
    n = 3000
    frames = tmp_path / "frames"
    frames.mkdir()
    src = sorted((sequences_dir / "Crossing" / "img").iterdir())
    for i in range(n):  # the clip over and over (links: cheap)
        os.symlink(src[i % len(src)], frames / f"{i:05d}.jpg")
    out = tmp_path / "out.txt"
    cmd = [sys.executable, "-m", "stmtrack_plugin.cli.main", "track", str(frames), "--box", BOX,
           "--weights", tiny_weights, "--set", "crop_size=129", "--out", str(out),
           "--device", "cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=env)
    seen, progress = [], threading.Event()

    def read():
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            seen.append(chunk.decode(errors="replace"))
            if re.search(rf"\b([5-9]|\d\d+)/{n}\b", "".join(seen)):
                progress.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert progress.wait(120), "tracking did not start: " + "".join(seen)[-500:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    rows = _rows(out)
    assert 5 <= len(rows) < n
    assert f"terminated: wrote the {len(rows)} frames tracked so far" in "".join(seen)


def test_video_decode_error_keeps_the_frames_before_it(tiny_weights, sequences_dir, tmp_path,
                                                        capsys):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (360, 240))
    for i in range(1, 7):
        writer.write(cv2.imread(str(sequences_dir / "Crossing" / "img" / f"{i:04d}.jpg")))
    writer.release()
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b"\xff\xd8\xff"]
    assert len(starts) == 6  # one JPEG per frame
    data[starts[2]:starts[2] + 600] = bytes(600)  # frame 3 no longer decodes; 4-6 still do
    video.write_bytes(bytes(data))
    out = tmp_path / "out.txt"
    assert _track(tiny_weights, video, out) == 1
    assert len(_rows(out)) == 2
    err = capsys.readouterr().err
    assert f"could not decode frame 3 of {video}" in err
