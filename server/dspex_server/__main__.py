"""`python -m dspex_server` / `dspex-server`: the daemon on stdio.

Editors start it without arguments; `--help` and `--version` answer at once, without
reading stdin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def version_text() -> str:
    """`dspex-server <package version> (protocol <protocol version>)`."""
    from importlib.metadata import PackageNotFoundError, version

    from dspex_protocol import PROTOCOL_VERSION

    try:
        package = version("dspex")
    except PackageNotFoundError:  # a source tree that is not installed
        from . import __version__ as package
    return f"dspex-server {package} (protocol {PROTOCOL_VERSION})"


class LazyVersion(argparse.Action):
    """`--version`, its text built only when asked (importlib.metadata is not cheap)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dspex-server",
        description="The dspex daemon: a language server (LSP framing, JSON-RPC) on stdin "
        "and stdout, in front of every LLM provider. Editors and the `dspex` command start "
        "it; the protocol is in docs/protocol.md.",
        epilog="Configuration: $DSPEX_CONFIG or the user config dir's dspex/config.toml, "
        "provider keys from the environment (README, Configuration).",
    )
    parser.add_argument(
        "--version",
        action=LazyVersion,
        nargs=0,
        default=argparse.SUPPRESS,
        help="show the package and protocol versions and exit",
    )
    return parser.parse_args(argv)


_SERVE = -1


def _arguments() -> int:
    """The exit code of `--help`/`--version` (printed, flushed), or _SERVE."""
    try:
        parse_args()
    except SystemExit as exc:
        sys.stdout.flush()
        return exc.code if isinstance(exc.code, int) else 2
    return _SERVE


def main() -> None:
    from dspex_protocol._pipes import quiet_on_closed_pipe

    code = quiet_on_closed_pipe(_arguments)
    if code != _SERVE:
        raise SystemExit(code)
    from .app import run

    raise SystemExit(run())


if __name__ == "__main__":
    main()
