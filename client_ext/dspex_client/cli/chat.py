"""`dspex chat`: one chat completion, printed as text (streamed on a terminal) or JSON."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from ..client import DspexClient
from ..errors import StreamInterruptedError
from .batch import run_lines
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
    parser.add_argument(
        "--reasoning",
        choices=("low", "medium", "high"),
        help="ask the model to reason first, with this effort",
    )
    parser.add_argument(
        "--reasoning-budget", type=int, metavar="TOKENS", help="tokens it may reason with"
    )
    parser.add_argument(
        "--show-reasoning",
        action="store_true",
        help="print the model's reasoning on stderr (the answer alone goes to stdout)",
    )
    parser.add_argument(
        "--server-tool",
        action="append",
        metavar="NAME",
        help="let the provider run one of its own tools (web_search, code_execution, ...); "
        "repeatable",
    )
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument(
        "--jsonl",
        action="store_true",
        help="batch: each stdin line is a JSON object ({prompt} or {messages}, plus any chat "
        "option); one result line per input line, in order",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (--jsonl)")
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
    options = _options(args)
    if args.jsonl:

        async def one(item: dict[str, Any]) -> Any:
            merged = {**options, **item}
            return await client.chat(merged.pop("prompt", None), **merged)

        return await run_lines(sys.stdin, one, args.concurrency)
    prompt = read_text_argument(args.prompt, "prompt")
    return await _chat_once(args, client, prompt, options)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "system": args.system,
        "provider": args.provider,
        "model": args.model,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "timeout_ms": args.timeout_ms,
    }
    if args.reasoning is not None or args.reasoning_budget is not None:
        reasoning = {"effort": args.reasoning, "budget_tokens": args.reasoning_budget}
        options["reasoning"] = {k: v for k, v in reasoning.items() if v is not None}
    if args.server_tool:
        options["server_tools"] = [{"name": name} for name in args.server_tool]
    return {k: v for k, v in options.items() if v is not None}


async def _chat_once(
    args: argparse.Namespace, client: DspexClient, prompt: str, options: dict[str, Any]
) -> int:
    stream = args.stream if args.stream is not None else (sys.stdout.isatty() and not args.json)
    if args.json:
        result = await client.chat(prompt, **options)
        print_json(result.to_wire())
        return EXIT_OK
    if stream:
        chat_stream = client.chat_stream(prompt, **options)
        with contextlib.suppress(StreamInterruptedError):  # reported from the result below
            async for chunk in chat_stream:
                if chunk.failover is not None and chunk.failover.mode == "restart":
                    # The text so far is void: the next target answers from the start.
                    sys.stdout.write("\n")
                    print(
                        f"note: failed over to {chunk.failover.provider}/"
                        f"{chunk.failover.model} ({chunk.failover.reason}); restarting",
                        file=sys.stderr,
                    )
                if chunk.delta.reasoning and args.show_reasoning:
                    sys.stderr.write(chunk.delta.reasoning)
                    sys.stderr.flush()
                if chunk.delta.content:
                    sys.stdout.write(chunk.delta.content)
                    sys.stdout.flush()
        result = await chat_stream.result()
        if args.show_reasoning and result.choices[0].message.reasoning:
            sys.stderr.write("\n")
        sys.stdout.write("\n")
    else:
        result = await client.chat(prompt, **options)
        message = result.choices[0].message
        if args.show_reasoning and message.reasoning:
            sys.stderr.write(message.reasoning + "\n")
        sys.stdout.write((message.content or "") + "\n")
    for part in result.choices[0].message.parts or ():
        if part.type == "server_tool":
            print(f"note: the provider ran {part.name}({part.input})", file=sys.stderr)
        elif part.type == "refusal":
            print(f"note: the model refused: {part.text}", file=sys.stderr)
    for call in result.choices[0].message.tool_calls or ():
        sys.stdout.write(f"[tool call] {call.name}({call.arguments})\n")
    for notice in result.notices or ():
        print(f"note: {notice}", file=sys.stderr)
    if result.choices[0].finish_reason == "interrupted" and result.error:
        print(f"warning: the answer was interrupted ({result.error.get('kind')})", file=sys.stderr)
    sys.stdout.flush()
    return EXIT_OK
