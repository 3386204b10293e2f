"""Checkpoint utilities: inspect a weights file, or write seeded random weights.

  stmtrack weights inspect epoch-19.pkl          # layout, epoch, config; strict key check
  stmtrack weights random --seed 0 --out w.pkl   # untrained weights for demos and smoke tests
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
