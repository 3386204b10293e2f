"""Lite training throughput: optimiser steps of the cached-feature route vs the full route.

    python benchmarks/train_lite_throughput.py [--recipe lite] [--batch 8] [--steps 3]
        [--threads N] [--device cpu]

Both routes run the recipe's model (random weights) with the late trunk blocks trainable (the
freeze plan after ``unfreeze_epoch``) on random inputs of the recipe's crop size: the full route
forwards T + 1 crops through both trunks every step; the cached route starts from prefix
activations of the shapes the cache holds (:mod:`stmtrack_plugin.training.feature_cache`). Also
timed: stage (a)'s prefix encoding per sample (paid once per cached sample). Data loading is not
included (the full route also decodes and crops video frames every step; the cached route reads
memory-mapped float16 arrays). Median over ``--steps`` after one warm-up; nothing is asserted.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch

from train_throughput import time_train_steps  # noqa: E402 (benchmarks/ is on sys.path)


def _median(times):
    times = sorted(times)
    return times[len(times) // 2]


def bench(cfg, device: torch.device, batch: int, steps: int, full_route: bool = True) -> dict:
    from stmtrack_plugin.model.trunks import score_geometry
    from stmtrack_plugin.training.trunk_split import (encode_prefix, forward_from_cache,
                                                     freeze_prefix)
    from stmtrack_plugin.training.schedule import apply_freeze, build_optimizer
    from stmtrack_plugin.training.trainer import build_training_model

    model = build_training_model(dataclasses.replace(cfg, pretrained=""), device)
    s, t = cfg.crop_size, cfg.num_memory_frames
    k = score_geometry(cfg.model, s)[0] ** 2
    mem = torch.rand(batch, t, 3, s, s, device=device) * 255
    fg = (torch.rand(batch, t, 1, s, s, device=device) > 0.5).float()
    query = torch.rand(batch, 3, s, s, device=device) * 255
    cls = (torch.rand(batch, k, 1, device=device) > 0.7).float()
    box = torch.tensor([s * 0.4, s * 0.4, s * 0.6, s * 0.6], device=device).expand(batch, k, 4)

    def timed(forward, prepare) -> float:
        prepare()
        return time_train_steps(forward, build_optimizer(model, cfg), cls, box, steps, device)

    late = cfg.unfreeze_epoch
    full = timed(lambda: model(mem, fg, query),
                 lambda: apply_freeze(model.train(), late, cfg.unfreeze_epoch)) if full_route else None
    model.eval()
    times = []
    for _ in range(steps + 1):
        tic = time.perf_counter()
        cached_mem, cached_q, cached_label = encode_prefix(model, cfg.cache_blocks, mem, fg, query)
        times.append(time.perf_counter() - tic)
    encode = _median(times[1:])
    cached_mem, cached_q = cached_mem.half().float(), cached_q.half().float()

    def prepare_cached():
        apply_freeze(model.train(), late, cfg.unfreeze_epoch)
        freeze_prefix(model, cfg.cache_blocks)

    cached = timed(lambda: forward_from_cache(model, cfg.cache_blocks, cached_mem, cached_q, s,
                                              cached_label), prepare_cached)
    return {"full": full, "cached": cached, "encode": encode,
            "prefix_shape": tuple(cached_mem.shape[1:])}


def main() -> None:
    from stmtrack_plugin.training.config import load_recipe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="lite")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--cache-blocks", type=int, help="override the recipe's cache_blocks")
    parser.add_argument("--skip-full", action="store_true", help="time the cached route only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_recipe(args.recipe)
    if args.cache_blocks is not None:
        cfg = dataclasses.replace(cfg, cache_blocks=args.cache_blocks)
    device = torch.device(args.device)
    print(f"recipe {args.recipe}: {cfg.model.backbone} width {cfg.model.width_mult}, crop "
          f"{cfg.crop_size}, T = {cfg.num_memory_frames}, prefix = stem + blocks "
          f"0..{cfg.cache_blocks - 1}, batch {args.batch}, {args.steps} steps on {device}; "
          f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, {os.cpu_count()} CPUs")
    r = bench(cfg, device, args.batch, args.steps, not args.skip_full)
    if r["full"] is not None:
        print(f"full route step:   median {r['full']:.3f} s ({args.batch / r['full']:.1f} "
              "samples/s)")
    print(f"cached route step: median {r['cached']:.3f} s ({args.batch / r['cached']:.1f} "
          f"samples/s), prefix activations {r['prefix_shape']} per memory frame")
    print(f"stage (a) prefix encoding: median {r['encode']:.3f} s per batch "
          f"({args.batch / r['encode']:.1f} samples/s, once per cached sample)")


if __name__ == "__main__":
    main()
