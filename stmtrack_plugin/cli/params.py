"""List the shipped parameter files or print one setting's values."""
from __future__ import annotations

import dataclasses
import json


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="parameter file to show (omit to list them)")


def run(args) -> int:
    from stmtrack_plugin.config import available_parameters, load_parameters

    if not args.name:
        print("\n".join(available_parameters()))
        return 0
    print(json.dumps(dataclasses.asdict(load_parameters(args.name)), indent=2))
    return 0
