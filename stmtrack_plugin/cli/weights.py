"""Checkpoint utilities: inspect a weights file, or write seeded random weights.

  stmtrack weights inspect epoch-19.pkl          # layout, epoch, config; strict key check
  stmtrack weights random --seed 0 --out w.pkl   # untrained weights for demos and smoke tests
  stmtrack weights export runs/lite/final_model.pkl --out lite.pkl --dtype float16
                                                 # weights only, half the size, for shipping
"""
from __future__ import annotations

import json

from stmtrack_plugin.cli.errors import report_error


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("inspect", help="check that a file loads into the model and describe it")
    p.add_argument("path")
    p.add_argument("--unsafe-load", action="store_true",
                   help="allow pickled Python objects (weights_only=False); only for trusted files")
    p = sub.add_parser("random", help="write seeded random weights in the authors' layout")
    p.add_argument("--out", required=True, help="output file (.pkl)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model-config", default=None,
                   help='JSON ModelConfig overrides, e.g. \'{"width_mult": 0.125}\' (tiny models) '
                        'or \'{"backbone": "efficientnet_lite0"}\' (its stride and crop_pad follow)')
    p = sub.add_parser("export", help="write a checkpoint's weights only (no optimizer state, "
                                      "no unused legacy blocks), optionally as float16")
    p.add_argument("path", help="checkpoint to export (validated as by inspect)")
    p.add_argument("--out", required=True, help="output file (.pkl)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16"),
                   help="dtype of the stored floating weights (they load into a float32 model); "
                        "BatchNorm running statistics always stay float32 (a running variance "
                        "can exceed float16's range)")


#: state-dict key endings exported as float32 whatever ``--dtype`` says: BatchNorm statistics
#: (the plain-tower lite models had regression-BN running variances of ~1e8-1e9, beyond float16's
#: 65504)
KEEP_FLOAT32 = (".running_mean", ".running_var")
#: float16's smallest normal number: a tensor entirely below it rounds to ~0 (reported apart)
FLOAT16_MIN_NORMAL = 6.1e-5


def run(args) -> int:
    from stmtrack_plugin.model import CheckpointError

    try:
        return _run(args)
    except (CheckpointError, FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        return report_error("weights", exc)


def _run(args) -> int:
    from stmtrack_plugin.config import ModelConfig, replace_strict
    from stmtrack_plugin.model import build_model, save_checkpoint, verify_checkpoint
    from stmtrack_plugin.model.random_weights import randomize_model, state_digest
    from stmtrack_plugin.model.trunks import model_config_for

    if args.action == "random":
        overrides = {}
        if args.model_config:
            try:
                overrides = json.loads(args.model_config)
            except json.JSONDecodeError as exc:
                raise ValueError(f"--model-config is not JSON: {exc}") from None
            if not isinstance(overrides, dict):
                raise ValueError("--model-config must be a JSON object, e.g. '{\"width_mult\": 0.125}'")
        config = model_config_for(overrides.get("backbone", ModelConfig().backbone))
        config = replace_strict(config, overrides)
        model = randomize_model(build_model(config), args.seed)
        save_checkpoint(model, args.out, epoch=-1)
        print(f"wrote seeded random weights (seed {args.seed}, NOT trained) to {args.out}, "
              f"sha256 {state_digest(model.state_dict())}")
        return 0
    if args.action == "export":
        return _export(args)
    # everything is validated before any model memory is allocated
    config, state, info = verify_checkpoint(args.path, weights_only=not args.unsafe_load)
    model = build_model(config)
    model.load_state_dict(state, strict=False)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.path}: OK, {len(model.state_dict())} tensors, {n_params:,} parameters")
    print(f"  epoch: {info.get('epoch', 'n/a')}; optimizer state: "
          f"{'yes' if 'optimizer_state_dict' in info else 'no'}")
    print(f"  model config: {config}")
    return 0


def _export(args) -> int:
    """Weights only: validated, legacy blocks dropped, floating tensors in ``args.dtype`` except
    the BatchNorm running statistics (:data:`KEEP_FLOAT32`), which stay float32."""
    import torch

    from stmtrack_plugin.model import build_model, verify_checkpoint
    from stmtrack_plugin.model.checkpoint import check_finite, write_checkpoint
    from stmtrack_plugin.model.stmtrack import LEGACY_PREFIXES

    config, state, info = verify_checkpoint(args.path)
    model = build_model(config)
    model.load_state_dict(state, strict=False)
    dtype = getattr(torch, args.dtype)
    full = model.state_dict()
    kept = {k: (v.to(dtype) if v.is_floating_point() and not k.endswith(KEEP_FLOAT32) else v)
            for k, v in full.items() if not k.startswith(LEGACY_PREFIXES)}
    check_finite(kept)  # a float32 value beyond float16's range would become inf
    floats = [k for k in kept if full[k].is_floating_point() and full[k].numel()]
    # tensors entirely below FLOAT16_MIN_NORMAL (e.g. biases that stayed ~1e-9) round to ~0:
    # counted apart, their relative change says nothing
    tiny = [k for k in floats if full[k].abs().max().item() < FLOAT16_MIN_NORMAL]
    worst = max([((kept[k].float() - full[k].float()).abs().max() /
                  full[k].float().abs().max()).item() for k in floats if k not in tiny] or [0.0])
    write_checkpoint(args.out, kept, config, epoch=int(info.get("epoch", -1)))
    n = sum(v.numel() for v in kept.values())
    n_low = sum(v.numel() for v in kept.values() if v.dtype == dtype)
    print(f"wrote {args.out}: {len(kept)} tensors, {n:,} values ({n_low:,} as {args.dtype}) "
          f"(largest change {worst:.2g} of a tensor's largest value; {len(tiny)} tensors below "
          f"{FLOAT16_MIN_NORMAL:g} throughout), no optimizer state, no legacy blocks")
    return 0
