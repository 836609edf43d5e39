"""`dspex predict`: structured prediction from a signature, for one input or JSON lines.

    dspex predict "text -> sentiment, confidence" --input text="I love Elixir" [--json]
    cat reviews.jsonl | dspex predict "text -> sentiment" > results.jsonl

On stdin, each line is one JSON object of inputs; each gives one JSON line on stdout, in
the same order: the result, or `{"error": {...}}` for a line that failed (the others go on;
the exit code is then 5).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..client import DspexClient
from .batch import run_lines
from .common import (
    EXIT_OK,
    UsageError,
    add_target_arguments,
    print_json,
    run,
)


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "predict",
        help="structured prediction from a signature",
        description="Run a signature such as 'question -> answer' on inputs given with "
        "--input, or on JSON lines read from stdin (one result line per input line).",
    )
    parser.add_argument(
        "signature",
        help="'inputs -> outputs' (typed: 'text: str -> score: float'), a JSON spec, or @FILE",
    )
    parser.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input field as text (repeatable)",
    )
    parser.add_argument(
        "--input-json",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="an input field as a JSON value (repeatable)",
    )
    add_target_arguments(parser)
    parser.add_argument("--mode", choices=["text", "json", "structured"])
    parser.add_argument("--max-retries", type=int)
    parser.add_argument("--cot", action="store_true", help="chain of thought (adds reasoning)")
    parser.add_argument("--instructions", help="what the model should do")
    parser.add_argument("--demos", metavar="FILE", help="a JSON list of {inputs, outputs}")
    parser.add_argument("-t", "--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--timeout-ms", type=int)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight for JSON lines"
    )
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.set_defaults(handler=lambda args: run(args, predict))


def _read_json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {what} from {path}: {exc}") from None


def parse_signature_argument(value: str) -> str | dict[str, Any]:
    if value.startswith("@"):
        spec = _read_json_file(value[1:], "the signature")
    elif value.lstrip().startswith("{"):
        try:
            spec = json.loads(value)
        except ValueError as exc:
            raise UsageError(f"the signature is not valid JSON: {exc}") from None
    else:
        return value
    if not isinstance(spec, dict):
        raise UsageError("a JSON signature must be an object with inputs and outputs")
    return spec


def parse_inputs(texts: list[str], jsons: list[str]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for item, as_json in [(t, False) for t in texts] + [(j, True) for j in jsons]:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--input wants NAME=VALUE, got {item!r}")
        if as_json:
            try:
                inputs[name] = json.loads(value)
            except ValueError as exc:
                raise UsageError(f"--input-json {name}: not JSON ({exc})") from None
        else:
            inputs[name] = value
    return inputs


def options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "provider": args.provider,
        "model": args.model,
        "mode": args.mode,
        "max_retries": args.max_retries,
        "instructions": args.instructions,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "timeout_ms": args.timeout_ms,
    }
    if args.cot:
        opts["chain_of_thought"] = True
    if args.demos:
        opts["demos"] = _read_json_file(args.demos, "demos")
    return {k: v for k, v in opts.items() if v is not None}


async def predict(args: argparse.Namespace, client: DspexClient) -> int:
    signature = parse_signature_argument(args.signature)
    opts = options(args)
    inputs = parse_inputs(args.input, args.input_json)
    if not inputs and not sys.stdin.isatty():
        return await predict_lines(client, signature, opts, max(1, args.concurrency))
    result = await client.predict(signature, inputs, **opts)
    if args.json:
        print_json(result.to_wire())
        return EXIT_OK
    for name, value in result.outputs.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        sys.stdout.write(f"{name}: {text}\n")
    for call in result.tool_calls or ():
        sys.stdout.write(f"[tool call] {call.name}({json.dumps(call.arguments)})\n")
    for notice in result.notices or ():
        print(f"note: {notice}", file=sys.stderr)
    sys.stdout.flush()
    return EXIT_OK


async def predict_lines(
    client: DspexClient, signature: str | dict[str, Any], opts: dict[str, Any], concurrency: int
) -> int:
    """One JSON line out per non-blank JSON line of inputs in, in order."""

    async def one(inputs: dict[str, Any]) -> Any:
        return await client.predict(signature, inputs, **opts)

    return await run_lines(sys.stdin, one, concurrency)
