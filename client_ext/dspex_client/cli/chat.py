"""`dspex chat`: one chat completion, printed as text (streamed on a terminal) or JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..client import DspexClient
from .common import EXIT_OK, add_target_arguments, print_json, read_text_argument, run


def add_parser(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "chat", help="ask a model", description="Send one prompt and print the answer."
    )
    parser.add_argument("prompt", nargs="?", help="the prompt; `-` or piped stdin reads it")
    add_target_arguments(parser)
    parser.add_argument("-s", "--system", help="a system prompt")
    parser.add_argument("-t", "--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--timeout-ms", type=int)
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    stream = parser.add_mutually_exclusive_group()
    stream.add_argument(
        "--stream",
        dest="stream",
        action="store_true",
        default=None,
        help="print tokens as they arrive (default on a terminal)",
    )
    stream.add_argument("--no-stream", dest="stream", action="store_false")
    parser.set_defaults(handler=lambda args: run(args, chat))


async def chat(args: argparse.Namespace, client: DspexClient) -> int:
    prompt = read_text_argument(args.prompt, "prompt")
    options: dict[str, Any] = {
        "system": args.system,
        "provider": args.provider,
        "model": args.model,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "timeout_ms": args.timeout_ms,
    }
    options = {k: v for k, v in options.items() if v is not None}
    stream = args.stream if args.stream is not None else (sys.stdout.isatty() and not args.json)
    if args.json:
        result = await client.chat(prompt, **options)
        print_json(result.to_wire())
        return EXIT_OK
    if stream:
        chat_stream = client.chat_stream(prompt, **options)
        async for chunk in chat_stream:
            if chunk.delta.content:
                sys.stdout.write(chunk.delta.content)
                sys.stdout.flush()
        result = await chat_stream.result()
        sys.stdout.write("\n")
    else:
        result = await client.chat(prompt, **options)
        sys.stdout.write((result.choices[0].message.content or "") + "\n")
    for call in result.choices[0].message.tool_calls or ():
        sys.stdout.write(f"[tool call] {call.name}({call.arguments})\n")
    for notice in result.notices or ():
        print(f"note: {notice}", file=sys.stderr)
    if result.choices[0].finish_reason == "interrupted" and result.error:
        print(f"warning: the answer was interrupted ({result.error.get('kind')})", file=sys.stderr)
    sys.stdout.flush()
    return EXIT_OK
