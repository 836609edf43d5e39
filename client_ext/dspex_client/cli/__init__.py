"""The `dspex` command line: one module per subcommand, each with `add_parser(subparsers)`
setting `handler(args) -> exit code`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import (
    analytics,
    chat,
    collections,
    completion,
    embed,
    info,
    keys,
    logs,
    predict,
    serve,
    sessions,
)

COMMANDS = (
    chat,
    embed,
    info,
    predict,
    serve,
    analytics,
    completion,
    sessions,
    logs,
    keys,
    collections,
)


def build_parser() -> argparse.ArgumentParser:
    from dspex_protocol import PROTOCOL_VERSION

    parser = argparse.ArgumentParser(
        prog="dspex",
        description="Talk to every major LLM provider through the dspex daemon.",
        epilog="Exit codes: 0 ok, 2 usage error, 3 request failed, 4 daemon unavailable, "
        "5 partial batch failure, 130 interrupted.",
    )
    parser.add_argument(
        "--version", action="version", version=f"dspex (protocol {PROTOCOL_VERSION})"
    )
    parser.add_argument(
        "--no-log",
        action="store_true",
        help="the daemon this command starts logs no exchange (sets DSPEX_NO_LOG=1)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_log:
        os.environ["DSPEX_NO_LOG"] = "1"  # inherited by the daemon the command spawns
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    code: int = args.handler(args)
    return code


def run_main() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    run_main()
