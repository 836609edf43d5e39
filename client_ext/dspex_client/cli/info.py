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
