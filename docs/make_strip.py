"""Draw a strip of frames with a tracker's boxes (and the ground truth) for the README.

    python docs/make_strip.py ../shared/data/sequences/Crossing results/Crossing.txt \
        --out docs/lite_crossing.jpg --frames 6

``RESULTS`` holds one ``x,y,w,h`` line per frame (0-based pixels, as ``stmtrack track --out``
writes). Frames are picked evenly from the first to the last result line; each is drawn with
the ground truth in white (when the sequence has one; as ``stmtrack track`` reads it) and the
result in green, scaled to ``--height`` pixels and placed side by side with its frame
number. Reads only files; tracks nothing.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np

from stmtrack_plugin.utils.io import read_image_bgr
from stmtrack_plugin.utils.sequences import load_otb_sequence, read_boxes
from stmtrack_plugin.utils.video import draw_box


def draw_strip(frames, results: np.ndarray, gt, picks, height: int) -> np.ndarray:
    """Frames (paths), results (N, 4) x,y,w,h 0-based, gt (N, 4) 0-based or None -> BGR strip."""
    tiles = []
    for k in picks:
        image = read_image_bgr(frames[k])
        scale = height / image.shape[0]
        image = cv2.resize(image, (int(round(image.shape[1] * scale)), height),
                           interpolation=cv2.INTER_AREA)
        if gt is not None:
            draw_box(image, np.asarray(gt[k], dtype=float) * scale, (255, 255, 255), 1)
        draw_box(image, np.asarray(results[k], dtype=float) * scale, (0, 220, 0), 2)
        cv2.putText(image, f"#{k + 1}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255),
                    1, cv2.LINE_AA)
        tiles.append(image)
    gap = np.full((height, 4, 3), 255, dtype=np.uint8)
    out = [tiles[0]]
    for tile in tiles[1:]:
        out += [gap, tile]
    return np.hstack(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sequence", help="OTB-layout sequence folder (img/, groundtruth_rect.txt)")
    p.add_argument("results", help="x,y,w,h per frame, 0-based")
    p.add_argument("--out", required=True, help="image file to write (.jpg or .png)")
    p.add_argument("--frames", type=int, default=6, help="how many frames to show")
    p.add_argument("--height", type=int, default=180, help="height of each frame in pixels")
    args = p.parse_args(argv)
    seq = load_otb_sequence(args.sequence)
    frames = seq.frames
    results = read_boxes(args.results)
    gt = seq.groundtruth  # in the frame of the results: stmtrack track starts from its line 1
    n = min(len(frames), len(results))
    if n == 0 or args.frames < 1:
        print("error: no frames or no results to draw", file=sys.stderr)
        return 1
    picks = np.unique(np.linspace(0, n - 1, args.frames).round().astype(int))
    strip = draw_strip(frames, results, gt, picks, args.height)
    ok, data = cv2.imencode(os.path.splitext(args.out)[1] or ".jpg", strip)
    if not ok:
        print(f"error: cannot encode {args.out}", file=sys.stderr)
        return 1
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data.tobytes())
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({strip.shape[1]}x{strip.shape[0]}, frames {', '.join(str(k + 1) for k in picks)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
