"""One-line command errors: ``stmtrack COMMAND: error: MESSAGE`` on stderr, exit status 2."""
from __future__ import annotations

import sys

#: exit status of a command refused for bad input (argparse's own)
USAGE_ERROR = 2


def report_error(command: str, exc: BaseException) -> int:
    """Print ``exc`` as one error line of ``stmtrack command`` (a ``KeyError`` without the quotes
    ``str`` adds around its message); returns :data:`USAGE_ERROR`."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    print(f"stmtrack {command}: error: {message}", file=sys.stderr)
    return USAGE_ERROR
