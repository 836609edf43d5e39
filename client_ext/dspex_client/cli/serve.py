"""`dspex serve`: run the daemon in the foreground on stdio (what editors start)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..client import default_command


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the daemon on stdio (for editors; same as `dspex-server`)"
    )
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace) -> int:
    command = default_command()
    os.execvp(command[0], command)  # replaces this process; returns only on failure
    return 1  # pragma: no cover
