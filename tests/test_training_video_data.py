"""Readers for video-file sequences (``data/train`` layout) and still photos with boxes
(``data/images`` layout), on a 10-frame clip of a real training video and a few real photos."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from stmtrack_plugin.training.datasets import build_dataset, load_still_images, load_video_sequences
from stmtrack_plugin.training.datasets._annotations import AnnotationError
from stmtrack_plugin.training.datasets.frames import VideoFrameReader, read_record_frames

CLIP_FRAMES = 10
PHOTOS = ("coco_sub_000000001732", "coco_sub_000000003124")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STMTRACK_CACHE", str(tmp_path / "cache"))


def _first_frames(video, n):
    cap = cv2.VideoCapture(str(video))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


@pytest.fixture(scope="module")
def clip_root(shared_dir, tmp_path_factory):
    """``train/Skiing/`` with the first 10 frames of otb_Skiing (MJPG .avi), their boxes, and
    frame 3 marked absent."""
    src = shared_dir / "data" / "train" / "otb_Skiing"
    root = tmp_path_factory.mktemp("video") / "train"
    folder = root / "Skiing"
    folder.mkdir(parents=True)
    frames = _first_frames(src / "video.mp4", CLIP_FRAMES)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(folder / "video.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    lines = (src / "groundtruth_rect.txt").read_text().splitlines()[:CLIP_FRAMES]
    lines[3] = "0,0,0,0"
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    (folder / "absent.txt").write_text("".join("1\n" if i == 3 else "0\n" for i in range(CLIP_FRAMES)))
    return root


def _copy_clip(clip_root, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(clip_root, root)
    return root, root / "Skiing"


def test_video_index(clip_root, shared_dir):
    records = load_video_sequences(str(clip_root))
    assert [r.name for r in records] == ["Skiing"] and records[0].video
    rec = records[0]
    assert len(rec) == CLIP_FRAMES and rec.boxes.shape == (CLIP_FRAMES, 4)
    assert rec.visible.tolist() == [i != 3 for i in range(CLIP_FRAMES)]
    assert rec.boxes[0].tolist() == [446.0, 181.0, 29.0, 26.0]  # raw OTB values, as every reader
    assert rec.frame_path(2).endswith("video.avi#2")
    again = build_dataset("video", str(clip_root), "all")  # from the index cache
    assert again[0].video and np.array_equal(again[0].boxes, rec.boxes) and len(again[0]) == 10


def test_video_frames_by_index_match_sequential_decoding(clip_root):
    rec = load_video_sequences(str(clip_root))[0]
    truth = _first_frames(rec.frame_dir, CLIP_FRAMES)
    reader = VideoFrameReader(cache_frames=3, max_open=1)
    for i in (7, 2, 9, 2, 8, 0):
        assert np.array_equal(reader.read(rec.frame_dir, i), truth[i]), i
    # a sample's frames are decoded in one ascending pass, returned in request order
    reader = VideoFrameReader()
    got = read_record_frames([(rec, 6), (rec, 1), (rec, 4), (rec, 1)], reader)
    assert all(np.array_equal(g, truth[i]) for g, i in zip(got, (6, 1, 4, 1)))
    assert reader.decoded == 7  # frames 0..6 once
    with pytest.raises(ValueError, match="video ends at frame 10"):
        VideoFrameReader().read(rec.frame_dir, 12)


@pytest.mark.parametrize("edit,message", [
    (lambda f: f.__setitem__(2, "1,2,x,4"), r"groundtruth_rect.txt:3: not a number"),
    (lambda f: f.__setitem__(4, "1,2,3"), r"groundtruth_rect.txt:5: expected 4 numbers"),
    (lambda f: f.__setitem__(5, "10,20,-3,4"), r"groundtruth_rect.txt:6: box .* w or h <= 0"),
    (lambda f: f.__setitem__(1, "5000,20,30,40"), r"groundtruth_rect.txt:2: box lies outside"),
    (lambda f: f.pop(), r"9 box lines but .*video.avi has 10 frames"),
])
def test_bad_ground_truth_is_named_by_file_and_line(clip_root, tmp_path, edit, message):
    root, folder = _copy_clip(clip_root, tmp_path)
    gt = folder / "groundtruth_rect.txt"
    lines = gt.read_text().splitlines()
    edit(lines)
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(AnnotationError, match=message):
        load_video_sequences(str(root), use_cache=False)


def test_bad_absent_flags_are_named(clip_root, tmp_path):
    root, folder = _copy_clip(clip_root, tmp_path)
    (folder / "absent.txt").write_text("0\n2\n" + "0\n" * 8)
    with pytest.raises(AnnotationError, match=r"absent.txt:2: expected 0 or 1"):
        load_video_sequences(str(root), use_cache=False)
    (folder / "absent.txt").write_text("1\n" + "0\n" * 9)
    with pytest.raises(AnnotationError, match=r"absent.txt:1: frame marked absent but"):
        load_video_sequences(str(root), use_cache=False)
    (folder / "video.avi").write_bytes(b"not a video")
    with pytest.raises(ValueError, match="cannot open video"):
        load_video_sequences(str(root), use_cache=False)


@pytest.fixture(scope="module")
def photo_root(shared_dir, tmp_path_factory):
    src = shared_dir / "data" / "images"
    root = tmp_path_factory.mktemp("images")
    (root / "img").mkdir()
    boxes = json.loads((src / "boxes.json").read_text())
    for name in PHOTOS:
        shutil.copy(src / "img" / f"{name}.jpg", root / "img")
    (root / "boxes.json").write_text(json.dumps({n: boxes[n] for n in PHOTOS}))
    return root


def test_still_images_give_one_record_per_box(photo_root):
    records = load_still_images(str(photo_root))
    boxes = json.loads((photo_root / "boxes.json").read_text())
    assert len(records) == sum(len(boxes[n]) for n in PHOTOS)
    assert all(r.is_image and len(r) == 1 and not r.video for r in records)
    assert records[0].name == f"{PHOTOS[0]}#0:cell phone"
    assert records[0].boxes[0].tolist() == pytest.approx(boxes[PHOTOS[0]][0][:4])
    assert records[0].frame_path(0).endswith(f"img/{PHOTOS[0]}.jpg")


@pytest.mark.parametrize("content,message", [
    ('{"a": [[1, 2, 3', r"boxes.json:1: invalid JSON"),
    ('[1, 2]', r"expected an object"),
    ('{"../secret": [[1, 2, 3, 4, "x"]]}', r"entry '../secret': not a plain image file name"),
    ('{"%s": [[1, 2, 0, 4, "x"]]}' % PHOTOS[0], r"entry '%s', box 0: expected" % PHOTOS[0]),
    ('{"%s": [[1, 2, 3, "4", "x"]]}' % PHOTOS[0], r"box 0: expected"),
    ('{"%s": [[1, 2, 3000, 4, "x"]]}' % PHOTOS[0], r"box 0: .* exceeds the"),
    ('{"missing": [[1, 2, 3, 4, "x"]]}', r"entry 'missing': image not found"),
])
def test_bad_image_boxes_are_named(photo_root, tmp_path, content, message):
    root = tmp_path / "imgs"
    shutil.copytree(photo_root, root)
    (root / "boxes.json").write_text(content)
    with pytest.raises(AnnotationError, match=message):
        load_still_images(str(root), use_cache=False)


def test_training_pairs_from_video_and_still_images(clip_root, photo_root):
    """Samples from both readers, on the lite model's score grid (stride 16)."""
    from stmtrack_plugin.model.trunks import model_config_for
    from stmtrack_plugin.training.config import DatasetSpec, TrainConfig
    from stmtrack_plugin.training.pairs import TrainingPairs, load_datasets

    common = clip_root.parent
    cfg = TrainConfig(
        model=model_config_for("efficientnet_lite0", width_mult=0.125, neck_channels=16,
                               head_channels=16),
        datasets=(DatasetSpec("video", 1.0, str(clip_root.relative_to(common))),
                  DatasetSpec("still_images", 1.0, str(photo_root))),
        crop_size=129, num_memory_frames=2, pairs_per_epoch=6, max_gap=5, num_workers=0,
        area_rate_range=(0.0001, 0.9))
    pairs = TrainingPairs(load_datasets(cfg, str(common)), cfg)
    assert (pairs.score_size, pairs.offset) == (9, 0)
    items = [pairs[i] for i in range(6)]
    for item in items:
        assert item["memory_frames"].shape == (2, 3, 129, 129)
        assert item["query"].shape == (3, 129, 129) and item["cls_gt"].shape == (81, 1)
    again = TrainingPairs(load_datasets(cfg, str(common)), cfg)
    assert torch.equal(again[3]["query"], items[3]["query"])  # reproducible by index
