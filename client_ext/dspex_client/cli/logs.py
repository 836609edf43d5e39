"""`dspex logs`: the durable log of exchanges, newest first."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dspex_protocol import LogEntry

from ..client import DspexClient
from .common import EXIT_OK, EXIT_REQUEST_FAILED, EXIT_USAGE, fail, print_json, run


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "logs", help="show logged exchanges (newest first); search them with -q"
    )
    p.add_argument("-n", "--count", type=int, default=10, help="how many (default 10)")
    p.add_argument("-q", "--query", help="full-text search of prompts and answers (FTS5)")
    p.add_argument("--session", help="only this session's exchanges")
    p.add_argument("-p", "--provider")
    p.add_argument("-m", "--model")
    p.add_argument("--since", help="ISO 8601 time or Unix seconds")
    p.add_argument("--errors", action="store_true", help="only failed exchanges")
    p.add_argument("--json", action="store_true", help="the entries as JSON")
    p.add_argument(
        "--purge",
        action="store_true",
        help="delete every logged exchange from the store (no daemon needed); "
        "turn logging off with --no-log, DSPEX_NO_LOG=1 or store.log_requests = false",
    )
    p.set_defaults(handler=lambda args: purge(args) if args.purge else run(args, show_logs))


def purge(args: argparse.Namespace) -> int:
    """Delete the log where the daemon keeps it (the same configuration decides where)."""
    import os
    from pathlib import Path

    from dspex_server.config import ConfigStore
    from dspex_server.store.purge import purge_logs
    from dspex_server.store.service import default_path

    config = ConfigStore(os.environ)
    for problem in config.problems:
        fail("invalid_config", problem)
    if config.problems:
        return EXIT_USAGE
    configured = config.settings.store.path
    path = Path(configured).expanduser() if configured else default_path()
    try:
        deleted = purge_logs(path)
    except Exception as exc:  # sqlite3.Error, OSError: say which, never a traceback
        fail("store_error", f"{path}: {type(exc).__name__}: {exc}")
        return EXIT_REQUEST_FAILED
    print(f"purged {deleted} logged exchange(s) from {path}")
    return EXIT_OK


async def show_logs(args: argparse.Namespace, client: DspexClient) -> int:
    params: dict[str, Any] = {
        "limit": args.count,
        "q": args.query,
        "session_id": args.session,
        "provider": args.provider,
        "model": args.model,
        "since": args.since,
        "errors_only": args.errors or None,
    }
    result = await client.logs_query(**{k: v for k, v in params.items() if v is not None})
    if args.json:
        print_json(result.to_wire())
        return EXIT_OK
    if not result.enabled:
        print("(logging is turned off: store.enabled / store.logRequests / DSPEX_NO_LOG)")
    # Oldest of the page first, like a terminal scrollback.
    for entry in reversed(result.entries):
        print(_format(entry))
    return EXIT_OK


def _format(entry: LogEntry) -> str:
    when = entry.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    head = f"# {when}  {entry.provider or '-'}/{entry.model or '-'}  {entry.operation}"
    if entry.latency_ms is not None:
        head += f"  {entry.latency_ms:.0f} ms"
    if entry.session_id:
        head += f"  session {entry.session_id}"
    lines = [head]
    for message in entry.request.get("messages", []):
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        lines.append(f"{message.get('role', '?')}: {text}")
    if entry.error_kind and not entry.response:
        lines.append(f"error: {entry.error_kind}: {entry.error_message or ''}")
    elif entry.response:
        message = entry.response.get("message") or {}
        if message.get("content"):
            lines.append(f"assistant: {message['content']}")
        for call in message.get("toolCalls") or []:
            lines.append(f"tool call: {call.get('name')}({json.dumps(call.get('arguments'))})")
        if entry.error_kind:
            lines.append(f"error: {entry.error_kind}")
    return "\n".join(lines) + "\n"
