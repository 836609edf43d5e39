"""`dspex embed`: embeddings of texts given as arguments or lines on stdin."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..client import DspexClient
from .batch import run_lines
from .common import EXIT_OK, UsageError, add_target_arguments, print_json, run


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "embed",
        help="embed texts",
        description="Print one JSON array of floats per input text (or --json for the result).",
    )
    parser.add_argument("texts", nargs="*", help="texts; none or `-` reads lines from stdin")
    add_target_arguments(parser)
    parser.add_argument("--dimensions", type=int)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help="batch: each stdin line is a JSON object {inputs: [...], ...}; "
        "one result line per input line, in order",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (--jsonl)")
    parser.set_defaults(handler=lambda args: run(args, embed))


async def embed(args: argparse.Namespace, client: DspexClient) -> int:
    options = {
        k: v
        for k, v in {
            "provider": args.provider,
            "model": args.model,
            "dimensions": args.dimensions,
        }.items()
        if v is not None
    }
    if args.jsonl:

        async def one(item: dict[str, Any]) -> Any:
            merged = {**options, **item}
            return await client.embed(merged.pop("inputs", []), **merged)

        return await run_lines(sys.stdin, one, args.concurrency)
    texts = [t for t in args.texts if t != "-"]
    if not texts:
        if sys.stdin.isatty():
            raise UsageError("no texts given (pass them as arguments, or lines on stdin)")
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        if not texts:
            raise UsageError("no texts given: stdin held no non-empty line")
    if any(not t.strip() for t in texts):
        raise UsageError("an empty text cannot be embedded")
    result = await client.embed(texts, **options)
    if args.json:
        print_json(result.to_wire())
    else:
        for vector in result.embeddings:
            sys.stdout.write("[" + ", ".join(f"{v:.6g}" for v in vector) + "]\n")
    return EXIT_OK
