"""Dataset readers on the official layouts, the index cache, and errors for a wrong root."""
import json
import os

import cv2
import numpy as np
import pytest

from stmtrack_plugin.training.datasets import (build_dataset, load_coco, load_got10k,
                                               load_imagenet_det, load_imagenet_vid, load_lasot,
                                               load_otb, load_trackingnet)
from training_data import arrange_training_data


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STMTRACK_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def arranged(sequences_dir, tmp_path_factory):
    return arrange_training_data(sequences_dir, tmp_path_factory.mktemp("data"), max_frames=20)


def _image(path, hw=(48, 64)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full(hw + (3,), 128, np.uint8))


def test_got10k(arranged):
    records = load_got10k(str(arranged / "got10k"), "train")
    assert [r.name for r in records] == ["GOT-10k_Train_Crossing", "GOT-10k_Train_Couple",
                                         "GOT-10k_Train_bag"]
    rec = records[0]
    assert len(rec) == 20 and rec.boxes.shape == (20, 4) and not rec.visible[2] and rec.visible[3]
    assert os.path.isfile(rec.frame_path(19)) and rec.frame_names[0] == "00000001.jpg"
    # the split folder itself is accepted as root
    assert len(load_got10k(str(arranged / "got10k" / "train"), "train")) == 3


def test_lasot(arranged):
    records = load_lasot(str(arranged / "lasot"), "all")
    assert [r.name for r in records] == ["car-1", "person-1", "person-2"]
    assert not records[0].visible[5] and records[0].visible.sum() == 19
    with pytest.raises(FileNotFoundError, match="training_set.txt"):
        load_lasot(str(arranged / "lasot"), "train")


def test_otb_shared_sequences(sequences_dir):
    records = load_otb(str(sequences_dir))
    assert len(records) == 9 and len(records[0]) == 659  # Car4
    assert {r.name for r in records} >= {"TLP_Bike", "uav_boat1"}


def test_wrong_roots_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="GOT-10k root not found"):
        load_got10k(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="GOT-10k: no 'train' folder"):
        load_got10k(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="TrackingNet: no TRAIN_"):
        load_trackingnet(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="COCO annotation file not found"):
        load_coco(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ImageNet VID"):
        load_imagenet_vid(str(tmp_path))
    with pytest.raises(ValueError, match="unknown dataset kind"):
        build_dataset("kitti", str(tmp_path), "train")


def test_index_cache_is_used_and_invalidated(arranged, tmp_path, monkeypatch):
    import stmtrack_plugin.training.datasets.got10k as got_module

    root = str(arranged / "got10k")
    first = load_got10k(root)
    assert os.listdir(tmp_path / "cache")  # written outside the dataset root

    def no_scan(*args):
        raise AssertionError("rescanned although cached")

    monkeypatch.setattr(got_module, "_read_sequence", no_scan)
    cached = load_got10k(root)
    assert [r.name for r in cached] == [r.name for r in first]
    assert all((a.boxes == b.boxes).all() and (a.visible == b.visible).all()
               for a, b in zip(first, cached))
    with pytest.raises(AssertionError, match="rescanned"):
        load_got10k(root, use_cache=False)


def test_trackingnet_layout(tmp_path):
    root = tmp_path / "TrackingNet"
    for chunk, video, n in (("TRAIN_0", "vidA", 3), ("TRAIN_1", "vidB", 2)):
        for i in range(n):
            _image(root / chunk / "frames" / video / f"{i}.jpg")
        (root / chunk / "anno").mkdir(parents=True)
        (root / chunk / "anno" / f"{video}.txt").write_text("1,2,10,12\n" * n)
    records = load_trackingnet(str(root))
    assert [r.name for r in records] == ["TRAIN_0/vidA", "TRAIN_1/vidB"]
    assert list(records[0].frame_names) == ["0.jpg", "1.jpg", "2.jpg"]
    assert len(load_trackingnet(str(root), "TRAIN_1")) == 1


def _voc(path, objects):
    body = "".join(
        f"<object><trackid>{tid}</trackid><name>n0</name><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for tid, b in objects)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(f"<annotation><size><width>64</width><height>48</height></size>{body}</annotation>")


def test_imagenet_vid_layout(tmp_path):
    snippet = "ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000"
    for i, objs in enumerate([[(0, (1, 2, 10, 20)), (1, (5, 5, 9, 9))], [(0, (2, 2, 11, 21))]]):
        _image(tmp_path / "Data/VID/train" / snippet / f"{i:06d}.JPEG")
        _voc(tmp_path / "Annotations/VID/train" / snippet / f"{i:06d}.xml", objs)
    records = load_imagenet_vid(str(tmp_path))
    assert [r.name for r in records] == [f"{snippet}/0", f"{snippet}/1"]
    assert records[0].boxes[0].tolist() == [1, 2, 10, 19] and records[0].visible.all()
    assert records[1].visible.tolist() == [True, False]  # track 1 absent from frame 1
    assert records[0].frame_path(1).endswith(f"{snippet}/000001.JPEG")


def test_imagenet_det_layout(tmp_path):
    _image(tmp_path / "Data/DET/train/n01/img_a.JPEG")
    _voc(tmp_path / "Annotations/DET/train/n01/img_a.xml", [("", (1, 2, 10, 20)), ("", (3, 3, 8, 8))])
    records = load_imagenet_det(str(tmp_path))
    assert len(records) == 2 and all(r.is_image and len(r) == 1 for r in records)
    assert os.path.isfile(records[1].frame_path(0)) and records[1].boxes[0].tolist() == [3, 3, 6, 6]


def test_coco_layout(tmp_path):
    _image(tmp_path / "train2017" / "000000000009.jpg")
    (tmp_path / "annotations").mkdir()
    data = {"images": [{"id": 9, "file_name": "000000000009.jpg"}],
            "annotations": [{"id": 1, "image_id": 9, "bbox": [1, 2, 10, 12], "iscrowd": 0},
                            {"id": 2, "image_id": 9, "bbox": [1, 2, 10, 12], "iscrowd": 1},
                            {"id": 3, "image_id": 9, "bbox": [1, 2, 0, 12], "iscrowd": 0}]}
    (tmp_path / "annotations" / "instances_train2017.json").write_text(json.dumps(data))
    records = load_coco(str(tmp_path), "train2017")
    assert [r.name for r in records] == ["train2017/1"] and records[0].is_image
    assert records[0].boxes[0].tolist() == [1, 2, 10, 12]


def test_numbered_frame_names_are_compact():
    from stmtrack_plugin.training.datasets.base import NumberedFrames, compact_names

    names = [f"{i:08d}.jpg" for i in range(1, 101)]
    compact = compact_names(names)
    assert isinstance(compact, NumberedFrames) and list(compact) == names
    assert compact[-1] == "00000100.jpg" and compact[1:3] == names[1:3]
    plain = [f"{i}.jpg" for i in range(12)]
    assert list(compact_names(plain)) == plain and isinstance(compact_names(plain), NumberedFrames)
    gappy = ["0001.jpg", "0003.jpg"]
    assert compact_names(gappy) == tuple(gappy)
    with pytest.raises(IndexError):
        compact[100]


def test_cache_round_trip_keeps_names_boxes_and_flags(tmp_path):
    from stmtrack_plugin.training.datasets.base import NumberedFrames, cached_index, make_record

    records = [make_record("v", "/d/v", NumberedFrames("", 0, ".jpg", 0, 3), np.ones((3, 4)) * 2,
                           [True, False, True]),
               make_record("odd", "/d", ["b.jpg", "a.jpg"], [[1, 2, 3, 4], [0, 0, 0, 0]])]
    root = tmp_path / "root"
    root.mkdir()
    cached_index("x", "s", str(root), lambda: records)
    back = cached_index("x", "s", str(root), lambda: 1 / 0)
    assert [r.name for r in back] == ["v", "odd"]
    assert back[0].frame_path(2) == "/d/v/2.jpg" and back[1].frame_names == ("b.jpg", "a.jpg")
    assert back[0].visible.tolist() == [True, False, True] and back[1].visible.tolist() == [True, False]
    assert (back[0].boxes == 2).all() and back[1].boxes[0].tolist() == [1, 2, 3, 4]
    (root / "new").mkdir()  # the root changed: rebuilt
    assert cached_index("x", "s", str(root), lambda: records[:1])[0].name == "v"
    assert len(cached_index("x", "s", str(root), lambda: 1 / 0)) == 1
