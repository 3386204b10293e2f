"""``stmtrack``: one entry point with a sub-command per job.

Each sub-command lives in its own module with two functions, ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, so ``stmtrack --help``
stays fast and a missing optional toolkit only affects the command that needs it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from stmtrack_plugin.threads import openmp_env_defaults

#: command name -> (module, one-line help). Explicit on purpose: no plugin discovery.
COMMANDS = {
    "track": ("stmtrack_plugin.cli.track", "track one video or frame folder"),
    "eval": ("stmtrack_plugin.cli.evaluate", "run a benchmark through a toolkit (got10k, pysot)"),
    "compare": ("stmtrack_plugin.cli.compare", "tables and plots comparing trackers' results"),
    "vot-workspace": ("stmtrack_plugin.cli.vot_workspace", "prepare a VOT toolkit workspace"),
    "train": ("stmtrack_plugin.cli.train", "train a model from a recipe"),
    "weights": ("stmtrack_plugin.cli.weights", "inspect a checkpoint or write seeded random weights"),
    "params": ("stmtrack_plugin.cli.params", "list or show parameter files"),
}


def build_parser(commands=None) -> argparse.ArgumentParser:
    from stmtrack_plugin import __version__

    parser = argparse.ArgumentParser(prog="stmtrack", description="STMTrack tracker tools")
    parser.add_argument("--version", action="version", version=f"stmtrack-plugin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if commands is not None and name not in commands:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    if argv is None:  # the console command: before torch loads (see stmtrack_plugin.threads)
        os.environ.update(openmp_env_defaults(os.environ))
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    # import only the module of the command that runs; unknown names are reported by argparse
    parser = build_parser({command} if command in COMMANDS else set())
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
