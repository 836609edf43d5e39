"""Exiting quietly when the reader of stdout goes away (`dspex logs | head -1`).

Shared by every entry point (`dspex`, `dspex-server`, `python -m dspex_protocol.schema`):
a closed pipe ends the command with exit 141 (128 + SIGPIPE, what a shell reports for a
writer killed by it) and no traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

EXIT_BROKEN_PIPE = 141


def quiet_on_closed_pipe(main: Callable[[], int]) -> int:
    try:
        code = main()
        sys.stdout.flush()  # what is still buffered fails here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
