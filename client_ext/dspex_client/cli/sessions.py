"""`dspex session ...`, `dspex models [recommend]` and `dspex cost`.

Each `dspex` command runs its own daemon, so sessions outlive a command only where the
daemon persists them (`sessions.autosave_path` in the config, or the history store).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from ..client import DspexClient
from ..errors import StreamInterruptedError
from .common import EXIT_OK, UsageError, add_target_arguments, print_json, read_text_argument, run


def _json_or_text(args: argparse.Namespace, result: Any, text: str) -> int:
    if getattr(args, "json", False):
        print_json(result.to_wire())
    else:
        print(text)
    return EXIT_OK


async def _start(args: argparse.Namespace, client: DspexClient) -> int:
    params = {
        "provider": args.provider,
        "model": args.model,
        "system": args.system,
        "title": args.title,
    }
    result = await client.session_start(**{k: v for k, v in params.items() if v is not None})
    return _json_or_text(args, result, result.session_id)


async def _chat(args: argparse.Namespace, client: DspexClient) -> int:
    content = read_text_argument(args.content, "message")
    if args.json:
        print_json((await client.session_chat(args.session_id, content)).to_wire())
        return EXIT_OK
    stream = client.session_chat_stream(args.session_id, content)
    with contextlib.suppress(StreamInterruptedError):  # the partial answer is printed
        async for chunk in stream:
            if chunk.delta.content:
                sys.stdout.write(chunk.delta.content)
                sys.stdout.flush()
    await stream.result()
    sys.stdout.write("\n")
    return EXIT_OK


async def _history(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.session_history(args.session_id, args.limit)
    lines = [f"{m.role}: {m.text()}" for m in result.messages]
    return _json_or_text(args, result, "\n".join(lines))


async def _list(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.session_list()
    rows = [
        f"{s.session_id}  {s.provider}/{s.model}  {s.message_count} messages"
        + (f"  {s.title}" if s.title else "")
        for s in result.sessions
    ]
    return _json_or_text(args, result, "\n".join(rows) or "(no sessions)")


async def _end(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.session_end(args.session_id)
    return _json_or_text(args, result, f"ended {result.session_id}")


async def _export(args: argparse.Namespace, client: DspexClient) -> int:
    print_json((await client.session_export(args.session_id)).to_wire())
    return EXIT_OK


async def _import(args: argparse.Namespace, client: DspexClient) -> int:
    if args.file == "-":
        text = sys.stdin.read()
    else:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"the export is not JSON: {exc}") from None
    result = await client.session_import(data, on_conflict=args.on_conflict)
    return _json_or_text(args, result, "\n".join(result.session_ids))


async def _models(args: argparse.Namespace, client: DspexClient) -> int:
    params: dict[str, Any] = {"provider": args.provider, "live": args.live}
    result = await client.models(**{k: v for k, v in params.items() if v is not None})
    rows = [f"{m.provider}/{m.id}" for m in result.models]
    return _json_or_text(args, result, "\n".join(rows))


async def _recommend(args: argparse.Namespace, client: DspexClient) -> int:
    params: dict[str, Any] = {
        "features": args.feature,
        "prefer_local": args.prefer_local,
        "min_context_window": args.min_context,
        "max_cost_per_1k_tokens": args.max_cost,
    }
    result = await client.recommend(**{k: v for k, v in params.items() if v is not None})
    rows = [
        f"{r.rank}. {r.model.provider}/{r.model.id}: {r.reason}" for r in result.recommendations
    ]
    return _json_or_text(args, result, "\n".join(rows) or "(no model fits)")


async def _cost(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.cost(**({"session_id": args.session} if args.session else {}))
    total = result.total
    text = f"{total.total:.6f} {result.currency} over {total.requests} requests"
    if total.unpriced_requests:
        text += f" ({total.unpriced_requests} without a known price)"
    return _json_or_text(args, result, text)


def _with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    return parser


def add_parser(subparsers: Any) -> None:
    session = subparsers.add_parser("session", help="conversation sessions").add_subparsers(
        metavar="WHAT"
    )
    start = _with_json(session.add_parser("start", help="start a session; prints its id"))
    add_target_arguments(start)
    start.add_argument("-s", "--system")
    start.add_argument("--title")
    start.set_defaults(handler=lambda a: run(a, _start))
    chat = _with_json(session.add_parser("chat", help="one turn of a session (streamed)"))
    chat.add_argument("session_id")
    chat.add_argument("content", nargs="?", help="the message; `-` or piped stdin reads it")
    chat.set_defaults(handler=lambda a: run(a, _chat))
    history = _with_json(session.add_parser("history", help="a session's messages"))
    history.add_argument("session_id")
    history.add_argument("-n", "--limit", type=int)
    history.set_defaults(handler=lambda a: run(a, _history))
    _with_json(session.add_parser("list", help="sessions")).set_defaults(
        handler=lambda a: run(a, _list)
    )
    end = _with_json(session.add_parser("end", help="end a session"))
    end.add_argument("session_id")
    end.set_defaults(handler=lambda a: run(a, _end))
    export = session.add_parser("export", help="sessions as JSON (secrets stripped)")
    export.add_argument("session_id", nargs="?")
    export.set_defaults(handler=lambda a: run(a, _export))
    imp = _with_json(session.add_parser("import", help="restore sessions from an export"))
    imp.add_argument("file", help="the export's path, or - for stdin")
    imp.add_argument("--on-conflict", choices=["error", "replace", "new_id"], default="error")
    imp.set_defaults(handler=lambda a: run(a, _import))

    models = _with_json(subparsers.add_parser("models", help="the model catalog"))
    models.add_argument("-p", "--provider")
    models.add_argument(
        "--live", action="store_true", default=None, help="merge the providers' live model lists"
    )
    models.set_defaults(handler=lambda a: run(a, _models))
    rec = _with_json(subparsers.add_parser("recommend", help="recommend models"))
    rec.add_argument(
        "--feature",
        action="append",
        default=[],
        help="required capability (repeatable): tools, vision, json_schema, ...",
    )
    rec.add_argument("--min-context", type=int)
    rec.add_argument("--max-cost", type=float, help="USD per 1k tokens")
    rec.add_argument("--prefer-local", action="store_true", default=None)
    rec.set_defaults(handler=lambda a: run(a, _recommend))
    cost = _with_json(subparsers.add_parser("cost", help="cost totals and budgets"))
    cost.add_argument("--session")
    cost.set_defaults(handler=lambda a: run(a, _cost))
