"""TraX server for the VOT toolkit (vot-trax >= 4; raw protocol, no ``vot.py`` wrapper).

The VOT toolkit starts this module as ``<python> -m stmtrack_plugin.vot_trax`` (the
``trackers.ini`` entry written by ``stmtrack vot-workspace``) and talks TraX over stdin/stdout:

* the model is loaded **before** the TraX handshake (the toolkit's watchdog guards each reply but
  not start-up, so a slow load cannot time out a frame);
* one process serves any number of ``initialize`` requests (reset-based VOT2018 baseline
  re-initialises after each failure) without reloading the model;
* rectangle, polygon and mask regions are accepted (a polygon or mask initialises with its
  axis-aligned bounding box); every reply is a rectangle with a ``confidence`` property;
* any error (bad init region or box, unreadable frame, weights that fail to load) ends the
  session with the error message as the TraX quit reason, so the toolkit reports
  "Server terminated the session: <message>" instead of a bare "Server terminated the session".

Configuration comes from the environment (``trackers.ini`` ``env_*`` keys) or the command line:
``STMTRACK_PARAMS`` (parameter name or ``.py`` file), ``STMTRACK_WEIGHTS``, ``STMTRACK_DEVICE``,
and ``STMTRACK_TRACKER`` (``stmtrack`` or an OpenCV peer: csrt, kcf, mil, nanotrack).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from stmtrack_plugin.adapters.factory import DEVICE_ENV, PARAMS_ENV, TrackerSpec
from stmtrack_plugin.adapters.peers import NANOTRACK_ENV
from stmtrack_plugin.adapters.protocols import init_box
from stmtrack_plugin.config import WEIGHTS_ENV
from stmtrack_plugin.interfaces import Tracker
from stmtrack_plugin.utils.io import read_image_bgr

#: environment variables of the server (``trackers.ini`` ``env_*`` keys) beside PARAMS_ENV,
#: WEIGHTS_ENV, DEVICE_ENV and NANOTRACK_ENV
TRACKER_ENV = "STMTRACK_TRACKER"
POLYGON_INIT_ENV = "STMTRACK_POLYGON_INIT"


@dataclass(frozen=True)
class Request:
    """A toolkit request reduced to what a single-object box tracker needs.

    ``kind`` is ``"initialize"``, ``"frame"`` or ``"quit"``; ``image_path`` the colour frame;
    ``box`` the initial (x, y, w, h) for ``initialize`` (0-based image pixels), else None.
    """

    kind: str
    image_path: Optional[str] = None
    box: Optional[tuple] = None


def region_to_box(region, polygon_rule: str = "stmtrack") -> tuple:
    """(x, y, w, h) to initialise with, from a trax Rectangle, Polygon or Mask.

    A rectangle is used as given. A polygon (VOT2018's rotated boxes) becomes the authors' VOT
    tester's box by default (area-preserving ``get_axis_aligned_bbox``, ``x = cx - w/2``; see
    :func:`protocols.init_box`), its plain bounding box with ``polygon_rule="bounds"``. A mask
    becomes the bounding box of its pixels.
    """
    kind = getattr(region, "type", None)
    if kind == "rectangle":
        return _non_empty(tuple(float(v) for v in region.bounds()))
    if kind == "polygon":
        pts = np.array([region.get(i) for i in range(region.size())], dtype=np.float64)
        if polygon_rule != "bounds":
            return _non_empty(tuple(float(v) for v in init_box(pts.reshape(-1), polygon_rule)))
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        return _non_empty((float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    if kind == "mask":
        mask = np.asarray(region.array(True))
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            raise ValueError("initialisation mask is empty")
        return (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                float(ys.max() - ys.min() + 1))
    raise ValueError(f"unsupported TraX region type {kind!r} (rectangle, polygon, mask)")


def _non_empty(box: tuple) -> tuple:
    if not all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"empty or invalid initialisation region: box {tuple(box)} (x, y, w, h)")
    return box


class TraxChannel:
    """The real vot-trax 4 server, reduced to ``wait() -> Request`` and ``reply(box, conf)``."""

    def __init__(self, name: str = "stmtrack", polygon_rule: str = "stmtrack"):
        import trax

        self._trax = trax
        self._polygon_rule = polygon_rule
        self._server = trax.Server(
            [trax.Region.RECTANGLE, trax.Region.POLYGON, trax.Region.MASK],
            [trax.Image.PATH], tracker_name=name, tracker_family="stmtrack-plugin")

    def wait(self) -> Request:
        req = self._server.wait()
        if req.type in ("quit", "error"):
            return Request("quit")
        image = req.image.get("color") if isinstance(req.image, dict) else None
        if image is None:
            raise ValueError("TraX request carries no 'color' image channel")
        path = image.path()
        if req.type == "initialize":
            if not req.objects:
                raise ValueError("initialize request without a region")
            return Request("initialize", path,
                           region_to_box(req.objects[0][0], self._polygon_rule))
        return Request("frame", path)

    def reply(self, box, confidence: float) -> None:
        rect = self._trax.Rectangle.create(*(float(v) for v in box))
        self._server.status([(rect, {"confidence": float(confidence)})])

    def close(self, reason: Optional[str] = None) -> None:
        """End the session; ``reason`` reaches the toolkit as the quit message (``trax.reason``)."""
        self._server.quit(reason=reason)


def serve(channel, tracker: Tracker, read_image: Callable = read_image_bgr) -> int:
    """Answer requests until ``quit``; returns how many times the tracker was initialised.

    ``channel`` has ``wait() -> Request`` and ``reply(box, confidence)``; ``tracker`` a
    :class:`~stmtrack_plugin.interfaces.Tracker` (BGR images). The init frame is answered with the init box and
    confidence 1.
    """
    inits = 0
    while True:
        req = channel.wait()
        if req.kind == "quit":
            return inits
        image = read_image(req.image_path)
        if req.kind == "initialize":
            tracker.initialize(image, req.box)
            inits += 1
            channel.reply(req.box, 1.0)
        elif inits == 0:
            raise RuntimeError("frame request before any initialize request")
        else:
            out = tracker.track(image)
            channel.reply(out.box, out.score)


def quit_reason(exc: BaseException, limit: int = 2000) -> str:
    """A one-line quit message for the toolkit's log."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"stmtrack: {type(exc).__name__}: {text}"[:limit]


def _close(channel, reason: Optional[str]) -> None:
    try:
        channel.close(reason)
    except Exception as exc:  # the client may already be gone; nothing left to tell it
        print(f"stmtrack TraX server: could not close the session: {exc}", file=sys.stderr)


def run_session(channel, tracker: Tracker, read_image: Callable = read_image_bgr) -> int:
    """:func:`serve`, then close ``channel``: exit status 0, or 1 after an error, which is sent
    as the quit reason (and printed to stderr, which the toolkit keeps in its log)."""
    try:
        serve(channel, tracker, read_image)
    except Exception as exc:
        reason = quit_reason(exc)
        print(reason, file=sys.stderr)
        _close(channel, reason)
        return 1
    _close(channel, None)
    return 0


def build_parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m stmtrack_plugin.vot_trax",
        description="STMTrack TraX server for the VOT toolkit (started by the toolkit).")
    p.add_argument("--tracker", default=env.get(TRACKER_ENV, "stmtrack"),
                   help="stmtrack or an OpenCV peer (csrt, kcf, mil, nanotrack)")
    p.add_argument("--params", default=env.get(PARAMS_ENV),
                   help=f"parameter name or .py file (default: ${PARAMS_ENV}, else lite for a "
                        "Lite0 checkpoint, else vot2018)")
    p.add_argument("--weights", default=env.get(WEIGHTS_ENV),
                   help=f"checkpoint (default: ${WEIGHTS_ENV}, else the built-in model)")
    p.add_argument("--device", default=env.get(DEVICE_ENV), help="torch device")
    p.add_argument("--nanotrack-dir", default=env.get(NANOTRACK_ENV))
    p.add_argument("--polygon-init", choices=("stmtrack", "pysot", "bounds"),
                   default=env.get(POLYGON_INIT_ENV, "stmtrack"),
                   help="box from a polygon region: the authors' VOT tester (default), pysot's "
                        "test.py, or the plain bounding box")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    spec = TrackerSpec(kind=args.tracker, params=args.params, fallback_params="vot2018",
                       weights=args.weights,
                       device=args.device, nanotrack_dir=args.nanotrack_dir)
    try:
        tracker = spec.build()  # before the handshake: start-up is not under the watchdog
    except Exception as exc:  # still shake hands, so the toolkit can show why
        reason = quit_reason(exc)
        print(reason, file=sys.stderr)
        _close(TraxChannel(spec.name, args.polygon_init), reason)
        return 1
    return run_session(TraxChannel(spec.name, args.polygon_init), tracker)


if __name__ == "__main__":
    sys.exit(main())
