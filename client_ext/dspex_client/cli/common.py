"""What every subcommand shares: exit codes, the daemon's lifetime, input and output."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from ..client import DspexClient
from ..errors import DaemonUnavailableError, DspexError

# Exit codes (docs/cli.md): argparse uses 2 for usage errors.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_REQUEST_FAILED = 3
EXIT_DAEMON_UNAVAILABLE = 4
EXIT_PARTIAL_FAILURE = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`

# Error kinds of the daemon that mean the command line (or its config) is wrong. Params the
# daemon refuses (a malformed signature, no such index) are a failed request (3).
USAGE_KINDS = frozenset({"unsupported_provider", "invalid_config"})

Command = Callable[[argparse.Namespace, DspexClient], Awaitable[int]]


class UsageError(Exception):
    """Bad command-line input that argparse could not catch (exit code 2)."""


def fail(kind: str, message: str) -> None:
    """Every error the CLI prints: `error: <kind>: <message>` on stderr."""
    print(f"error: {kind}: {message}", file=sys.stderr)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def read_text_argument(value: str | None, what: str) -> str:
    """An argument, or stdin when it is `-` or absent and stdin is not a terminal."""
    if value is not None and value != "-":
        if not value.strip():
            raise UsageError(f"the {what} is empty")
        return value
    if value is None and sys.stdin.isatty():
        raise UsageError(f"no {what} given (pass it as an argument, or `-` to read stdin)")
    text = sys.stdin.read()
    if not text.strip():
        raise UsageError(f"the {what} read from stdin is empty")
    return text.rstrip("\n")


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--provider", help="provider name (default: first configured)")
    parser.add_argument("-m", "--model", help="model name (default: the provider's default)")


def run(args: argparse.Namespace, command: Command) -> int:
    """Start the daemon, run the command, always stop the daemon; map errors to exit codes.
    A configuration the daemon refused fails every command (exit 2), before any request:
    nothing is answered from defaults the user did not choose."""

    async def main() -> int:
        client = await DspexClient.spawn()
        try:
            problems = (await client.config()).config.get("problems") or []
            for problem in problems:
                fail("invalid_config", str(problem))
            if problems:
                return EXIT_USAGE
            return await command(args, client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except UsageError as exc:
        fail("usage", str(exc))
        return EXIT_USAGE
    except ValidationError as exc:  # the client checks params before sending them
        fail("invalid_params", "the request does not validate")
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(params)"
            print(f"  {loc}: {err['msg']}", file=sys.stderr)
        return EXIT_USAGE
    except DaemonUnavailableError as exc:
        fail(exc.kind, exc.message)
        return EXIT_DAEMON_UNAVAILABLE
    except DspexError as exc:
        fail(exc.kind, exc.message)
        if exc.kind == "invalid_params" and isinstance(exc.data, dict):
            for err in exc.data.get("errors", []):
                loc = ".".join(str(p) for p in err.get("loc", [])) or "(params)"
                print(f"  {loc}: {err.get('msg')}", file=sys.stderr)
        return EXIT_USAGE if exc.kind in USAGE_KINDS else EXIT_REQUEST_FAILED
    except KeyboardInterrupt:
        fail("cancelled", "interrupted")
        return EXIT_INTERRUPTED
