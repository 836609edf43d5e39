"""`dspex providers` and `dspex config`."""

from __future__ import annotations

import argparse
from typing import Any

from ..client import DspexClient
from .common import EXIT_OK, print_json, run


def add_parser(subparsers: Any) -> None:
    providers: argparse.ArgumentParser = subparsers.add_parser(
        "providers", help="list providers and whether they are configured"
    )
    providers.add_argument("--json", action="store_true")
    providers.set_defaults(handler=lambda args: run(args, show_providers))
    stats: argparse.ArgumentParser = subparsers.add_parser(
        "stats", help="request statistics of the daemon (per provider, model, session)"
    )
    stats.add_argument("-p", "--provider")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=lambda args: run(args, show_stats))
    config: argparse.ArgumentParser = subparsers.add_parser(
        "config", help="show the effective configuration (secrets redacted)"
    )
    config.set_defaults(handler=lambda args: run(args, show_config))


async def show_providers(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.providers()
    if args.json:
        print_json(result.to_wire())
        return EXIT_OK
    width = max(len(p.name) for p in result.providers)
    for p in result.providers:
        mark = "*" if p.name == result.default_provider else " "
        state = "configured" if p.configured else "not configured"
        print(f"{mark} {p.name:<{width}}  {state:<14}  {p.default_model or '-'}")
    return EXIT_OK


async def show_config(args: argparse.Namespace, client: DspexClient) -> int:
    print_json((await client.config()).to_wire())
    return EXIT_OK


async def show_stats(args: argparse.Namespace, client: DspexClient) -> int:
    result = await client.stats(**({"provider": args.provider} if args.provider else {}))
    if args.json:
        print_json(result.to_wire())
        return EXIT_OK
    t = result.totals
    print(
        f"requests {t.requests_made}: {t.requests_successful} ok, {t.requests_failed} failed, "
        f"{t.requests_cancelled} cancelled"
    )
    for p in result.providers:
        print(
            f"  {p.provider}: {p.requests_made} requests, state {p.state}, "
            f"circuit {p.circuit.state}"
        )
    return EXIT_OK
