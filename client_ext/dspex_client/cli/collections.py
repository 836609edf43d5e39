"""`dspex embed-multi NAME` (a saved collection from stdin lines or JSON lines) and
`dspex similar NAME TEXT` (top-k from it)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..client import DspexClient
from .common import EXIT_OK, UsageError, print_json, run


def add_parser(subparsers: Any) -> None:
    multi: argparse.ArgumentParser = subparsers.add_parser(
        "embed-multi",
        help="embed stdin (one text a line, or JSON lines) into a saved collection",
    )
    multi.add_argument("name", help="the collection (a dspex/index name)")
    multi.add_argument(
        "--jsonl",
        action="store_true",
        help='stdin holds JSON lines: {"id": ..., "text": ..., "metadata": {...}}',
    )
    multi.add_argument("--replace", action="store_true", help="drop the collection first")
    multi.add_argument("--batch-size", type=int, default=100, help="texts per request")
    multi.add_argument("-p", "--provider", help="embedding provider")
    multi.add_argument("-m", "--model", help="embedding model")
    multi.set_defaults(handler=lambda args: run(args, embed_multi))

    similar: argparse.ArgumentParser = subparsers.add_parser(
        "similar", help="the texts of a collection most similar to TEXT"
    )
    similar.add_argument("name")
    similar.add_argument("text")
    similar.add_argument("-k", type=int, default=10, help="how many (default 10)")
    similar.add_argument("--threshold", type=float)
    similar.add_argument("-p", "--provider", help="embedding provider")
    similar.add_argument("-m", "--model", help="embedding model")
    similar.add_argument("--json", action="store_true")
    similar.set_defaults(handler=lambda args: run(args, show_similar))


def _read_items(jsonl: bool) -> list[tuple[str | None, str, dict[str, Any] | None]]:
    items: list[tuple[str | None, str, dict[str, Any] | None]] = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        if not jsonl:
            items.append((None, line.rstrip("\n"), None))
            continue
        try:
            obj = json.loads(line)
            text = obj.get("text", obj.get("content"))
            if not isinstance(text, str):
                raise ValueError("no text")
        except (ValueError, AttributeError) as exc:
            raise UsageError(f"line {number}: not a JSON object with a text ({exc})") from None
        item_id = obj.get("id")
        metadata = obj.get("metadata")
        items.append((None if item_id is None else str(item_id), text, metadata))
    if not items:
        raise UsageError("nothing to embed on stdin")
    missing = [i is None for i, _, _ in items]
    if any(missing) and not all(missing):
        raise UsageError("give every line an id, or none")
    return items


async def embed_multi(args: argparse.Namespace, client: DspexClient) -> int:
    items = _read_items(args.jsonl)
    target = {k: v for k, v in (("provider", args.provider), ("model", args.model)) if v}
    if args.replace:
        await client.index_drop(name=args.name)
        await client.index_forget(name=args.name)
    added = 0
    for start in range(0, len(items), max(1, args.batch_size)):
        chunk = items[start : start + max(1, args.batch_size)]
        params: dict[str, Any] = {"name": args.name, "texts": [t for _, t, _ in chunk], **target}
        if chunk[0][0] is not None:
            params["ids"] = [i for i, _, _ in chunk]
        if any(md for _, _, md in chunk):
            params["metadata"] = [md for _, _, md in chunk]
        added += (await client.index_add(**params)).added
    saved = await client.index_save(name=args.name)
    print_json({**saved.to_wire(), "added": added})
    return EXIT_OK


async def show_similar(args: argparse.Namespace, client: DspexClient) -> int:
    params: dict[str, Any] = {"name": args.name, "texts": [args.text], "k": args.k}
    for key in ("threshold", "provider", "model"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    result = await client.index_query(**params)
    hits = result.results[0]
    if args.json:
        print_json([h.to_wire() for h in hits])
        return EXIT_OK
    for hit in hits:
        text = (hit.metadata or {}).get("text", "")
        print(f"{hit.score:.4f}\t{hit.id}\t{text}")
    return EXIT_OK
