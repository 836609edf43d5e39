"""`dspex keys set|list|remove PROVIDER`: provider keys kept in the OS keyring or a 0600
file, read by every daemon started afterwards (below environment variables).

A key is read from stdin or a hidden prompt, never from the command line (argv is visible
to every user of the machine), and is never printed.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from .common import EXIT_OK, EXIT_USAGE, fail


def add_parser(subparsers: Any) -> None:
    keys = subparsers.add_parser(
        "keys", help="keep provider API keys (OS keyring, else a 0600 file)"
    ).add_subparsers(metavar="WHAT")
    set_ = keys.add_parser("set", help="store a key: read from stdin or a hidden prompt")
    set_.add_argument("provider")
    set_.set_defaults(handler=_set)
    list_ = keys.add_parser("list", help="the providers with a kept key (never the key)")
    list_.set_defaults(handler=_list)
    remove = keys.add_parser("remove", help="forget a provider's key")
    remove.add_argument("provider")
    remove.set_defaults(handler=_remove)
    path = keys.add_parser("path", help="where the keys file is")
    path.set_defaults(handler=_path)


def _check_provider(name: str) -> bool:
    from dspex_server.providers.table import PROVIDER_BY_NAME

    if name not in PROVIDER_BY_NAME:
        fail("usage", f"unknown provider {name!r} (known: {', '.join(PROVIDER_BY_NAME)})")
        return False
    return True


def _read_key(provider: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{provider} API key (hidden): ").strip()
    return sys.stdin.readline().strip()


def _set(args: argparse.Namespace) -> int:
    from dspex_server.store.keys import KeysError, set_key

    if not _check_provider(args.provider):
        return EXIT_USAGE
    key = _read_key(args.provider)
    if not key:
        fail("usage", "no key given (pipe it to stdin or type it at the prompt)")
        return EXIT_USAGE
    try:
        where = set_key(args.provider, key, os.environ)
    except (KeysError, OSError) as exc:
        fail("keys_error", f"the key was not stored: {type(exc).__name__}")
        return EXIT_USAGE
    print(f"{args.provider}: key stored in the {where}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from dspex_server.store.keys import KeysError, list_keys

    try:
        rows = list_keys(os.environ)
    except KeysError as exc:
        fail("keys_error", str(exc))
        return EXIT_USAGE
    for provider, where in rows:
        print(f"{provider}\t{where}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from dspex_server.store.keys import KeysError, remove_key

    try:
        found = remove_key(args.provider, os.environ)
    except (KeysError, OSError) as exc:
        fail("keys_error", str(exc))
        return EXIT_USAGE
    if not found:
        fail("usage", f"no key kept for {args.provider!r}")
        return EXIT_USAGE
    print(f"{args.provider}: key removed")
    return EXIT_OK


def _path(args: argparse.Namespace) -> int:
    from dspex_server.store.keys import keys_file

    print(keys_file(os.environ))
    return EXIT_OK
