"""The `dspex` command line: one module per subcommand, each with `add_parser(subparsers)`
setting `handler(args) -> exit code`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from dspex_protocol._pipes import quiet_on_closed_pipe

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
from .common import EXIT_USAGE

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


class Parser(argparse.ArgumentParser):
    """argparse, with its errors in the form every other error has (`error: usage: ...`)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"error: usage: {self.prog}: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def version_text(prog: str) -> str:
    """`<prog> <package version> (protocol <protocol version>)`."""
    from importlib.metadata import PackageNotFoundError, version

    from dspex_protocol import PROTOCOL_VERSION

    try:
        package = version("dspex")
    except PackageNotFoundError:  # run from a source tree that is not installed
        package = "unknown"
    return f"{prog} {package} (protocol {PROTOCOL_VERSION})"


class LazyVersion(argparse.Action):
    """`--version`, its text built only when asked (importlib.metadata is not cheap)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(version_text("dspex") + "\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="dspex",
        description="Talk to every major LLM provider through the dspex daemon.",
        epilog="Exit codes: 0 ok, 2 usage error (also a refused config file), 3 request "
        "failed, 4 daemon unavailable, 5 partial batch failure, 130 interrupted, 141 the "
        "reader of stdout went away (`| head`). Errors: `error: <kind>: <message>` on stderr.",
    )
    parser.add_argument(
        "--version",
        action=LazyVersion,
        nargs=0,
        default=argparse.SUPPRESS,
        help="show the package and protocol versions and exit",
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
        return EXIT_USAGE
    code: int = args.handler(args)
    return code


def run_main() -> None:
    """Console-script entry point."""
    raise SystemExit(quiet_on_closed_pipe(main))


if __name__ == "__main__":
    run_main()
