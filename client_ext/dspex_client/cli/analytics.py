"""`dspex analytics ...`, `dspex index ...` and `dspex call METHOD` (any method, raw JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..client import DspexClient
from .common import EXIT_OK, UsageError, print_json, run

Build = Callable[[argparse.Namespace, DspexClient], Awaitable[Any]]


def _numbers(text: str) -> list[float]:
    try:
        return [float(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise UsageError(f"not a list of numbers: {text[:60]!r}") from None


def _command(build: Build) -> Callable[[argparse.Namespace], int]:
    async def command(args: argparse.Namespace, client: DspexClient) -> int:
        result = await build(args, client)
        print_json(result.to_wire() if hasattr(result, "to_wire") else result)
        return EXIT_OK

    return lambda args: run(args, command)


async def _performance(args: argparse.Namespace, client: DspexClient) -> Any:
    params: dict[str, Any] = {"provider": args.provider, "model": args.model}
    if args.samples is not None:
        text = sys.stdin.read() if args.samples == "-" else args.samples
        params["samples"] = _numbers(text)
    return await client.performance(**{k: v for k, v in params.items() if v is not None})


async def _compare(args: argparse.Namespace, client: DspexClient) -> Any:
    params: dict[str, Any] = {}
    if args.samples_file:
        text = await asyncio.to_thread(Path(args.samples_file).read_text, encoding="utf-8")
        params["samples"] = json.loads(text)
    else:
        names = [p for p in (args.providers or "").split(",") if p]
        params["targets"] = [{"provider": p} for p in names] or None
    if args.min_samples is not None:
        params["min_samples"] = args.min_samples
    return await client.compare(**{k: v for k, v in params.items() if v is not None})


async def _health(args: argparse.Namespace, client: DspexClient) -> Any:
    return await client.health(**({"provider": args.provider} if args.provider else {}))


async def _similarity(args: argparse.Namespace, client: DspexClient) -> Any:
    return await client.similarity(
        texts=args.texts, threshold=args.threshold, provider=args.provider
    )


async def _index_add(args: argparse.Namespace, client: DspexClient) -> Any:
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    return await client.index_add(name=args.name, texts=texts, provider=args.provider)


async def _index_query(args: argparse.Namespace, client: DspexClient) -> Any:
    return await client.index_query(
        name=args.name, texts=args.texts, k=args.k, threshold=args.threshold, provider=args.provider
    )


async def _index_drop(args: argparse.Namespace, client: DspexClient) -> Any:
    return await client.index_drop(name=args.name)


async def _index_list(args: argparse.Namespace, client: DspexClient) -> Any:
    return await client.index_list()


async def _call(args: argparse.Namespace, client: DspexClient) -> Any:
    text = sys.stdin.read() if args.params == "-" else (args.params or "{}")
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"params are not JSON: {exc}") from None
    return await client.request(args.method, params)


def add_parser(subparsers: Any) -> None:
    analytics = subparsers.add_parser(
        "analytics", help="latency statistics, comparison, health, similarity"
    ).add_subparsers(metavar="WHAT")
    perf = analytics.add_parser(
        "performance", help="latency statistics of a provider/model or of given samples"
    )
    perf.add_argument("-p", "--provider")
    perf.add_argument("-m", "--model")
    perf.add_argument("--samples", help="latencies in ms, comma or space separated; - reads stdin")
    perf.set_defaults(handler=_command(_performance))
    comp = analytics.add_parser("compare", help="compare providers with significance tests")
    comp.add_argument("--providers", help="comma-separated provider names (from the live stats)")
    comp.add_argument("--samples-file", help='JSON {"name": {"latencies": [...]}, ...}')
    comp.add_argument("--min-samples", type=int)
    comp.set_defaults(handler=_command(_compare))
    health = analytics.add_parser("health", help="provider health and anomalies")
    health.add_argument("-p", "--provider")
    health.set_defaults(handler=_command(_health))
    sim = analytics.add_parser("similarity", help="pairwise cosine similarity of texts")
    sim.add_argument("texts", nargs="+")
    sim.add_argument("--threshold", type=float)
    sim.add_argument("-p", "--provider", help="embedding provider")
    sim.set_defaults(handler=_command(_similarity))

    index = subparsers.add_parser("index", help="named in-memory vector indexes").add_subparsers(
        metavar="WHAT"
    )
    add = index.add_parser("add", help="embed texts (arguments or stdin lines) into an index")
    add.add_argument("name")
    add.add_argument("texts", nargs="*")
    add.add_argument("-p", "--provider", help="embedding provider")
    add.set_defaults(handler=_command(_index_add))
    query = index.add_parser("query", help="top-k nearest texts")
    query.add_argument("name")
    query.add_argument("texts", nargs="+")
    query.add_argument("-k", type=int, default=10)
    query.add_argument("--threshold", type=float)
    query.add_argument("-p", "--provider", help="embedding provider")
    query.set_defaults(handler=_command(_index_query))
    drop = index.add_parser("drop", help="drop an index")
    drop.add_argument("name")
    drop.set_defaults(handler=_command(_index_drop))
    index.add_parser("list", help="list indexes").set_defaults(handler=_command(_index_list))

    call = subparsers.add_parser("call", help="call any method with JSON params")
    call.add_argument("method", help="e.g. dspex/providers")
    call.add_argument("params", nargs="?", help="JSON object; - reads stdin")
    call.set_defaults(handler=_command(_call))
