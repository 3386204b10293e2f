"""Command-line interface: ``stmtrack <command> ...`` (see :mod:`stmtrack_plugin.cli.main`)."""
