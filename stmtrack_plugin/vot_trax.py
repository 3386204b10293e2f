"""Short entry point for the VOT toolkit's ``trackers.ini``: ``command = stmtrack_plugin.vot_trax``.

Runs :func:`stmtrack_plugin.adapters.vot_trax.main` (see there for the options).
"""
import sys

from stmtrack_plugin.adapters.vot_trax import main

if __name__ == "__main__":
    sys.exit(main())
