"""Is this environment the one the parity fixtures were made in?

The fixtures (``../shared/parity``) record the versions that produced them and the md5 of every
frame file and of every decoded frame. A bit-exact comparison only makes sense when the frames,
the decoder and the library versions that change numbers agree; otherwise a parity test would fail
on a score deep inside a frame and say nothing about why. These checks run first and say plainly
what differs:

* a frame file whose bytes differ is an error (the data is not the fixtures' data);
* another OpenCV or torch version, or frames that decode to other pixels, skip the bit-exact test
  with the reason (and fail under ``CI=true``, where ``constraints.txt`` pins the versions).
  ``tests/test_opencv_drift.py`` bounds how far other OpenCV versions drift instead.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Dict, Sequence

import cv2
import numpy as np
import pytest
import torch

#: library -> version string of the running environment, in the fixtures' ``produced_with`` keys
INSTALLED = {
    "opencv": cv2.__version__,
    "torch": torch.__version__,
    "numpy": np.__version__,
}
#: the libraries whose version changes the fixtures' numbers: OpenCV's warpAffine rounding (5.1
#: changed it) and JPEG decoder; torch's kernels and its RNG stream (the seeded weights)
NUMERIC_LIBRARIES = ("opencv", "torch")


def _release(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0' (a local build label does not change numbers)."""
    return version.split("+")[0]


def version_mismatches(produced_with: Dict[str, str]) -> Dict[str, tuple]:
    """{library: (fixture version, installed version)} for the numeric libraries that differ."""
    out = {}
    for lib in NUMERIC_LIBRARIES:
        want = produced_with.get(lib)
        if want is not None and _release(want) != _release(INSTALLED[lib]):
            out[lib] = (want, INSTALLED[lib])
    return out


def environment_differs(reason: str) -> None:
    """Skip a bit-exact test whose environment differs from the fixtures' (fail in CI)."""
    message = (f"parity environment differs from the fixtures': {reason}. Bit-exact results need "
               "the versions in constraints.txt (pip install -c constraints.txt ...); "
               "tests/test_opencv_drift.py bounds the drift of other OpenCV versions")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_fixture_environment(meta: dict, frame_paths: Sequence[Path]) -> None:
    """Check versions, frame bytes and decoded pixels against a tracking fixture's JSON ``meta``.

    ``frame_paths[k]`` must be the file of ``meta["frames"][k]``; only as many frames as given
    are checked.
    """
    mismatches = version_mismatches(meta.get("produced_with", {}))
    if mismatches:
        environment_differs(", ".join(f"{lib} {have} installed, fixtures made with {want}"
                                      for lib, (want, have) in mismatches.items()))
    file_md5 = meta["frame_file_md5"]
    pixel_md5 = meta["frame_pixel_md5"]
    for k, path in enumerate(frame_paths):
        data = Path(path).read_bytes()
        if hashlib.md5(data).hexdigest() != file_md5[k]:
            pytest.fail(f"frame file {path} is not the fixtures' file (md5 differs): "
                        "the shared data was changed or re-encoded")
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if hashlib.md5(np.ascontiguousarray(image).tobytes()).hexdigest() != pixel_md5[k]:
            environment_differs(f"OpenCV {cv2.__version__} decodes {path} to other pixels than "
                                "the fixtures' decoder")
