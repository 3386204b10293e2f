"""A minimal stand-in for an STVIR/pysot checkout's evaluation datasets (pysot is not installable).

It reproduces the contract of ``toolkit/datasets`` (STVIR/pysot; pysot-toolkit has the same API
under ``pysot/datasets``) that ``stmtrack-pysot`` relies on, as ``tools/test.py`` uses it:
``DatasetFactory.create_dataset(name=..., dataset_root=..., load_img=False)`` dispatches on the
name ('OTB' in name, 'VOT2016'/'VOT2018'/'VOT2019', else ``Exception('unknow dataset ...')``);
datasets read ``<dataset_root>/<name>.json`` (``{video: {video_dir, init_rect, img_names,
gt_rect, attr | VOT tags}}``), iterate their videos in sorted name order; a ``Video`` has
``name``, ``init_rect``, ``gt_traj``, ``img_names`` (``os.path.join(root, name)``), reads its
first image in the constructor (``assert img is not None``), and iterating it yields
``(cv2.imread(path), gt_traj[i])`` (BGR; None for an unreadable file).
"""
import json
import os
from pathlib import Path

import numpy as np

FILES = {
    "datasets/__init__.py": '''
from .vot import VOTDataset
from .otb import OTBDataset


class DatasetFactory(object):
    @staticmethod
    def create_dataset(**kwargs):
        assert 'name' in kwargs, "should provide dataset name"
        name = kwargs['name']
        if 'OTB' in name:
            dataset = OTBDataset(**kwargs)
        elif 'VOT2018' == name or 'VOT2016' == name or 'VOT2019' == name:
            dataset = VOTDataset(**kwargs)
        else:
            raise Exception("unknow dataset {}".format(kwargs['name']))
        return dataset
''',
    "datasets/dataset.py": '''
class Dataset(object):
    def __init__(self, name, dataset_root):
        self.name = name
        self.dataset_root = dataset_root
        self.videos = None

    def __getitem__(self, idx):
        if isinstance(idx, str):
            return self.videos[idx]
        return self.videos[sorted(list(self.videos.keys()))[idx]]

    def __len__(self):
        return len(self.videos)

    def __iter__(self):
        for key in sorted(list(self.videos.keys())):
            yield self.videos[key]
''',
    "datasets/video.py": '''
import os

import cv2


class Video(object):
    def __init__(self, name, root, video_dir, init_rect, img_names, gt_rect, attr,
                 load_img=False):
        self.name = name
        self.video_dir = video_dir
        self.init_rect = init_rect
        self.gt_traj = gt_rect
        self.attr = attr
        self.pred_trajs = {}
        self.img_names = [os.path.join(root, x) for x in img_names]
        self.imgs = None
        img = cv2.imread(self.img_names[0])
        assert img is not None, self.img_names[0]
        self.width = img.shape[1]
        self.height = img.shape[0]

    def __len__(self):
        return len(self.img_names)

    def __getitem__(self, idx):
        return cv2.imread(self.img_names[idx]), self.gt_traj[idx]

    def __iter__(self):
        for i in range(len(self.img_names)):
            yield cv2.imread(self.img_names[i]), self.gt_traj[i]
''',
    "datasets/otb.py": '''
import json
import os

from .dataset import Dataset
from .video import Video


class OTBDataset(Dataset):
    def __init__(self, name, dataset_root, load_img=False):
        super(OTBDataset, self).__init__(name, dataset_root)
        with open(os.path.join(dataset_root, name + '.json'), 'r') as f:
            meta_data = json.load(f)
        self.videos = {}
        for video in meta_data.keys():
            m = meta_data[video]
            self.videos[video] = Video(video, dataset_root, m['video_dir'], m['init_rect'],
                                       m['img_names'], m['gt_rect'], m['attr'], load_img)
''',
    "datasets/vot.py": '''
import json
import os

from .dataset import Dataset
from .video import Video


class VOTVideo(Video):
    def __init__(self, name, root, video_dir, init_rect, img_names, gt_rect, camera_motion,
                 illum_change, motion_change, size_change, occlusion, load_img=False):
        super(VOTVideo, self).__init__(name, root, video_dir, init_rect, img_names, gt_rect,
                                       None, load_img)
        self.tags = {'all': [1] * len(gt_rect), 'camera_motion': camera_motion,
                     'illum_change': illum_change, 'motion_change': motion_change,
                     'size_change': size_change, 'occlusion': occlusion}


class VOTDataset(Dataset):
    def __init__(self, name, dataset_root, load_img=False):
        super(VOTDataset, self).__init__(name, dataset_root)
        with open(os.path.join(dataset_root, name + '.json'), 'r') as f:
            meta_data = json.load(f)
        self.videos = {}
        for video in meta_data.keys():
            m = meta_data[video]
            self.videos[video] = VOTVideo(video, dataset_root, m['video_dir'], m['init_rect'],
                                          m['img_names'], m['gt_rect'], m['camera_motion'],
                                          m['illum_change'], m['motion_change'],
                                          m['size_change'], m['occlusion'], load_img=load_img)
''',
}

VOT_TAGS = ("camera_motion", "illum_change", "motion_change", "size_change", "occlusion")


def make_standin(root: Path, package: str = "toolkit") -> Path:
    """Write the stand-in at ``root``: ``<package>/datasets/*.py`` (``toolkit``: STVIR/pysot,
    ``pysot``: pysot-toolkit), with an empty ``<package>/__init__.py``."""
    (root / package).mkdir(parents=True, exist_ok=True)
    (root / package / "__init__.py").write_text("")
    for rel, text in FILES.items():
        path = root / package / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root


def write_dataset_json(dataset_root: Path, dataset: str, sequences: dict) -> Path:
    """``<dataset_root>/<dataset>.json`` for ``{video: (frame paths, (N, 4|8) ground truth)}``;
    image names relative to ``dataset_root``; VOT datasets get all-zero per-frame tags."""
    meta = {}
    for name, (frames, gt) in sequences.items():
        gt = np.asarray(gt, dtype=np.float64)
        entry = {"video_dir": name, "init_rect": gt[0].tolist(), "gt_rect": gt.tolist(),
                 "img_names": [os.path.relpath(p, dataset_root) for p in frames]}
        if dataset.startswith("VOT"):
            entry.update({tag: [0] * len(gt) for tag in VOT_TAGS})
        else:
            entry["attr"] = []
        meta[name] = entry
    dataset_root.mkdir(parents=True, exist_ok=True)
    path = dataset_root / f"{dataset}.json"
    path.write_text(json.dumps(meta))
    return path
