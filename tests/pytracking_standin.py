"""A minimal stand-in for a visionml/pytracking checkout (pytracking cannot be installed here).

It reproduces the contract documented in ../shared/reference/TOOLKITS.md §2.1, which the real
checkout follows: `run_tracker.py NAME PARAM --dataset_name otb` appends the checkout to the END of
sys.path; `evaluation.Tracker` imports `pytracking.tracker.<NAME>` only if that folder exists and
imports `pytracking.parameter.<NAME>.<PARAM>` for every sequence; frames are RGB; `initialize`
gets `{'init_bbox': ...}`, `track(image, info)` gets `{'previous_output': ...}`; `run_dataset`
skips sequences whose result exists and writes int-cast tab-delimited boxes; `local.py` holds the
paths (any error in it is fatal); the OTB dataset is a hard-coded list (`otbdataset.py`
`OTBDataset._get_sequence_info_list`); `ltr/admin/environment.py` has `create_default_local_file`.
"""
from pathlib import Path

FILES = {
    "pytracking/__init__.py": "",
    "pytracking/run_tracker.py": '''
import argparse
import os
import sys

env_path = os.path.join(os.path.dirname(__file__), '..')
if env_path not in sys.path:
    sys.path.append(env_path)

from pytracking.evaluation import get_dataset, Tracker
from pytracking.evaluation.running import run_dataset


def run_tracker(tracker_name, tracker_param, run_id=None, dataset_name='otb', sequence=None,
                debug=0, threads=0):
    dataset = get_dataset(dataset_name)
    if sequence is not None:
        dataset = [dataset[sequence]]
    trackers = [Tracker(tracker_name, tracker_param, run_id)]
    run_dataset(dataset, trackers, debug, threads)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('tracker_name', type=str)
    parser.add_argument('tracker_param', type=str)
    parser.add_argument('--runid', type=int, default=None)
    parser.add_argument('--dataset_name', type=str, default='otb')
    parser.add_argument('--sequence', type=str, default=None)
    parser.add_argument('--debug', type=int, default=0)
    parser.add_argument('--threads', type=int, default=0)
    args = parser.parse_args()
    run_tracker(args.tracker_name, args.tracker_param, args.runid, args.dataset_name,
                args.sequence, args.debug, args.threads)


if __name__ == '__main__':
    main()
''',
    "pytracking/evaluation/__init__.py": '''
from .data import Sequence
from .tracker import Tracker
from .datasets import get_dataset
''',
    "pytracking/evaluation/environment.py": '''
import importlib


class EnvSettings:
    def __init__(self):
        self.results_path = ''
        self.otb_path = ''


def create_default_local_file():
    raise NotImplementedError('not used by the tests')


def env_settings():
    try:
        env_module = importlib.import_module('pytracking.evaluation.local')
        return env_module.local_env_settings()
    except:
        raise RuntimeError('YOU HAVE NOT SETUP YOUR local.py!!!')
''',
    "pytracking/evaluation/data.py": '''
import numpy as np


class Sequence:
    def __init__(self, name, frames, dataset, ground_truth_rect):
        self.name = name
        self.frames = frames
        self.dataset = dataset
        self.ground_truth_rect = ground_truth_rect
        self.multiobj_mode = False

    def init_info(self):
        return {'init_bbox': list(self.ground_truth_rect[0, :])}

    def frame_info(self, frame_num):
        return {}


class SequenceList(list):
    def __getitem__(self, item):
        if isinstance(item, str):
            for seq in self:
                if seq.name == item:
                    return seq
            raise IndexError('Sequence name not in the dataset.')
        return super().__getitem__(item)
''',
    "pytracking/evaluation/datasets.py": '''
import numpy as np

from pytracking.evaluation.data import Sequence, SequenceList
from pytracking.evaluation.environment import env_settings
from pytracking.evaluation.otbdataset import OTBDataset


def get_dataset(name):
    if name != 'otb':
        raise ValueError('stand-in has only otb')
    base = env_settings().otb_path
    seqs = SequenceList()
    for s in OTBDataset._get_sequence_info_list(None):
        frames = ['{base}/{path}/{frame:0{nz}}.{ext}'.format(
            base=base, path=s['path'], frame=i, nz=s['nz'], ext=s['ext'])
            for i in range(s['startFrame'], s['endFrame'] + 1)]
        gt = np.loadtxt('{}/{}'.format(base, s['anno_path']), delimiter=',', dtype=np.float64)
        seqs.append(Sequence(s['name'], frames, 'otb', gt[:len(frames)]))
    return seqs
''',
    "pytracking/evaluation/otbdataset.py": '''
class OTBDataset:
    def _get_sequence_info_list(self):
        sequence_info_list = __OTB_INFO__

        return sequence_info_list
''',
    "pytracking/evaluation/tracker.py": '''
import importlib
import os
import time
from collections import OrderedDict

import cv2 as cv

from pytracking.evaluation.environment import env_settings


class Tracker:
    def __init__(self, name, parameter_name, run_id=None, display_name=None):
        self.name = name
        self.parameter_name = parameter_name
        self.run_id = run_id
        self.display_name = display_name
        env = env_settings()
        if self.run_id is None:
            self.results_dir = '{}/{}/{}'.format(env.results_path, self.name, self.parameter_name)
        else:
            self.results_dir = '{}/{}/{}_{:03d}'.format(env.results_path, self.name,
                                                         self.parameter_name, self.run_id)
        tracker_module_abspath = os.path.abspath(
            os.path.join(os.path.dirname(__file__), '..', 'tracker', self.name))
        if os.path.isdir(tracker_module_abspath):
            tracker_module = importlib.import_module('pytracking.tracker.{}'.format(self.name))
            self.tracker_class = tracker_module.get_tracker_class()
        else:
            self.tracker_class = None
        self.visdom = None

    def create_tracker(self, params):
        tracker = self.tracker_class(params)
        tracker.visdom = self.visdom
        return tracker

    def run_sequence(self, seq, visualization=None, debug=None):
        params = self.get_parameters()
        params.debug = 0 if debug is None else debug
        params.visualization = False
        tracker = self.create_tracker(params)
        init_info = seq.init_info()
        output = {'target_bbox': [], 'time': [], 'object_presence_score': []}

        def _store(out, defaults):
            for key in output:
                val = out.get(key, defaults.get(key, None))
                if key in out or val is not None:
                    output[key].append(val)

        image = self._read_image(seq.frames[0])
        start = time.time()
        out = tracker.initialize(image, init_info)
        if out is None:
            out = {}
        prev_output = OrderedDict(out)
        _store(out, {'target_bbox': init_info.get('init_bbox'), 'time': time.time() - start,
                     'object_presence_score': 1.})
        for frame_num, path in enumerate(seq.frames[1:], start=1):
            image = self._read_image(path)
            start = time.time()
            info = seq.frame_info(frame_num)
            info['previous_output'] = prev_output
            out = tracker.track(image, info)
            prev_output = OrderedDict(out)
            _store(out, {'time': time.time() - start})
        return output

    def get_parameters(self):
        param_module = importlib.import_module('pytracking.parameter.{}.{}'.format(
            self.name, self.parameter_name))
        return param_module.parameters()

    def _read_image(self, image_file):
        im = cv.imread(image_file)
        return cv.cvtColor(im, cv.COLOR_BGR2RGB)
''',
    "pytracking/evaluation/running.py": '''
import os

import numpy as np


def _save_tracker_output(seq, tracker, output):
    if not os.path.exists(tracker.results_dir):
        os.makedirs(tracker.results_dir)
    base = os.path.join(tracker.results_dir, seq.name)
    np.savetxt('{}.txt'.format(base), np.array(output['target_bbox']).astype(int),
               delimiter='\\t', fmt='%d')
    np.savetxt('{}_time.txt'.format(base), np.array(output['time']).astype(float),
               delimiter='\\t', fmt='%f')


def run_sequence(seq, tracker, debug=False):
    if os.path.isfile('{}/{}.txt'.format(tracker.results_dir, seq.name)):
        return
    output = tracker.run_sequence(seq, debug=debug)
    _save_tracker_output(seq, tracker, output)


def run_dataset(dataset, trackers, debug=False, threads=0, visdom_info=None):
    for seq in dataset:
        for tracker_info in trackers:
            run_sequence(seq, tracker_info, debug=debug)
''',
    "pytracking/utils/__init__.py": "from .params import TrackerParams\n",
    "pytracking/utils/params.py": '''
class TrackerParams:
    def get(self, name, *default):
        if len(default) > 1:
            raise ValueError('Can only give one default value.')
        if not default:
            return getattr(self, name)
        return getattr(self, name, default[0])

    def has(self, name):
        return hasattr(self, name)
''',
    "pytracking/tracker/__init__.py": "",
    "pytracking/tracker/base/__init__.py": "from .basetracker import BaseTracker\n",
    "pytracking/tracker/base/basetracker.py": '''
class BaseTracker:
    def __init__(self, params):
        self.params = params
        self.visdom = None

    def initialize(self, image, info):
        raise NotImplementedError

    def track(self, image, info=None):
        raise NotImplementedError
''',
    "pytracking/parameter/__init__.py": "",
    "ltr/__init__.py": "",
    "ltr/admin/__init__.py": "",
    "ltr/admin/environment.py": '''
import importlib
import os


def create_default_local_file():
    path = os.path.join(os.path.dirname(__file__), 'local.py')
    with open(path, 'w') as f:
        f.write("class EnvironmentSettings:\\n    def __init__(self):\\n"
                "        self.workspace_dir = ''\\n        self.lasot_dir = ''\\n")


def env_settings():
    env_module_name = 'ltr.admin.local'
    try:
        env_module = importlib.import_module(env_module_name)
        return env_module.EnvironmentSettings()
    except:
        create_default_local_file()
        raise RuntimeError('YOU HAVE NOT SETUP YOUR local.py!!!')
''',
    "pytracking/evaluation/local.py": '''
from pytracking.evaluation.environment import EnvSettings


def local_env_settings():
    settings = EnvSettings()
    settings.results_path = __RESULTS__
    settings.otb_path = __OTB__
    return settings
''',
}


LOCAL_FILES = ("pytracking/evaluation/local.py", "ltr/admin/local.py")


def make_standin(root: Path, otb_path: Path, results_path: Path, sequences: dict,
                 local_files: bool = True) -> Path:
    """Write the stand-in checkout at ``root``; ``sequences`` maps OTB name -> frame count.

    ``local_files`` False leaves out ``pytracking/evaluation/local.py`` (and ``ltr/admin/local.py``
    is never written: like a fresh clone, it comes from ``create_default_local_file``)."""
    info = [{"name": name, "path": f"{name}/img", "startFrame": 1, "endFrame": n, "nz": 4,
             "ext": "jpg", "anno_path": f"{name}/groundtruth_rect.txt"}
            for name, n in sequences.items()]
    for rel, text in FILES.items():
        if rel in LOCAL_FILES and not local_files:
            continue
        text = (text.replace("__OTB_INFO__", repr(info)).replace("__RESULTS__", repr(str(
            results_path))).replace("__OTB__", repr(str(otb_path))))
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root
