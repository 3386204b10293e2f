"""Training throughput: data pipeline samples/s and one optimiser step's time.

    python benchmarks/train_throughput.py --data ../shared/data/sequences [--recipe got10k]
        [--device cpu] [--batch 2] [--steps 3]

The data part reads OTB-layout folders (the shared sequences) with the recipe's crop size; the
step part runs forward + losses + backward + SGD on random inputs at the recipe's model size.
Figures are printed, nothing is asserted.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch


def bench_data(cfg, data: str, n: int) -> float:
    from stmtrack_plugin.training.config import DatasetSpec
    from stmtrack_plugin.training.pairs import TrainingPairs, load_datasets

    cfg = dataclasses.replace(cfg, datasets=(DatasetSpec("otb", 1.0, "", "all"),))
    pairs = TrainingPairs(load_datasets(cfg, data), cfg, length=n)
    pairs[0]
    tic = time.perf_counter()
    for i in range(1, n):
        pairs[i]
    return (n - 1) / (time.perf_counter() - tic)


def bench_step(cfg, device: torch.device, batch: int, steps: int) -> float:
    from stmtrack_plugin.model.trunks import score_geometry
    from stmtrack_plugin.training.schedule import build_optimizer
    from stmtrack_plugin.training.trainer import build_training_model

    model = build_training_model(cfg, device)
    optimizer = build_optimizer(model, cfg)
    s, t, k = cfg.crop_size, cfg.num_memory_frames, score_geometry(cfg.model, cfg.crop_size)[0] ** 2
    mem = torch.rand(batch, t, 3, s, s, device=device) * 255
    fg = (torch.rand(batch, t, 1, s, s, device=device) > 0.5).float()
    query = torch.rand(batch, 3, s, s, device=device) * 255
    cls = (torch.rand(batch, k, 1, device=device) > 0.7).float()
    box = torch.tensor([s * 0.4, s * 0.4, s * 0.6, s * 0.6], device=device).expand(batch, k, 4)
    return time_train_steps(lambda: model(mem, fg, query), optimizer, cls, box, steps, device)


def time_train_steps(forward, optimizer, cls, box, steps: int, device: torch.device) -> float:
    """Median seconds of ``steps`` optimiser steps (forward, loss, backward, step) after one
    warm-up step; ``forward()`` returns the model's HeadOutput, ``cls``/``box`` the targets."""
    from stmtrack_plugin.training.losses import stmtrack_loss

    times = []
    for _ in range(steps + 1):
        tic = time.perf_counter()
        out = forward()
        loss, _ = stmtrack_loss(out.cls_logits, out.ctr_logits, out.boxes, cls, cls * 0.5, box)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - tic)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    from stmtrack_plugin.training.config import load_recipe

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="OTB-layout folder")
    parser.add_argument("--recipe", default="tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    cfg = load_recipe(args.recipe)
    device = torch.device(args.device)
    print(f"recipe {args.recipe}: crop {cfg.crop_size}, T = {cfg.num_memory_frames}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"data pipeline (1 process): {bench_data(cfg, args.data, args.samples):.1f} samples/s")
    step = bench_step(cfg, device, args.batch, args.steps)
    print(f"train step on {device}, batch {args.batch}: median {step:.3f} s "
          f"({args.batch / step:.1f} samples/s)")


if __name__ == "__main__":
    main()
