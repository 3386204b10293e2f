"""File helpers: atomic writes and frame reading."""
from __future__ import annotations

import os
import tempfile
from typing import Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one.

    The data goes to a temporary file in the same folder, is flushed to disk, then renamed over
    ``path`` (atomic on POSIX and Windows for files on one file system).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class NotWritableError(OSError):
    """An output folder cannot be created or written (read-only, full disk, no permission)."""


def ensure_writable(folder: PathLike, what: str = "output") -> str:
    """Create ``folder`` if needed and write + remove a probe file in it, so an unwritable
    location fails before any tracking (not after the last frame). Returns the folder.

    Raises :class:`NotWritableError` naming the folder and the system's reason.
    """
    folder = os.path.abspath(os.fspath(folder))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        try:
            os.write(fd, b"stmtrack write probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise NotWritableError(f"cannot write the {what} to {folder}: "
                               f"{exc.strerror or exc}") from None
    return folder


def read_image_bgr(path: PathLike) -> np.ndarray:
    """Read a frame as an HxWx3 uint8 BGR array (``cv2.IMREAD_COLOR``), or raise naming the file."""
    import cv2

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"frame not found: {path}")
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"could not decode frame (not an image or corrupt): {path}")
    return img
