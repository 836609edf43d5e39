"""Strings for the mock's schema instances that honour `format` and `pattern`.

A `format` (date, date-time, time, email, uri, uuid, hostname, ipv4, ipv6) gets a value of
that form, a `pattern` a string the regular expression matches, built by walking the parsed
expression; both are derived from the seed, so different inputs give different values. A
pattern this walker cannot satisfy (lookarounds, say) gives None, and the caller falls back
to its plain string.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from collections.abc import Callable
from typing import Any

_parser: Any = importlib.import_module("re._parser")  # sre_parse, without its deprecation
MAX_REPEAT_EXTRA = 3  # an open-ended repeat (`*`, `+`, `{2,}`) adds at most this many
_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_CATEGORIES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_WORD": _WORD_CHARS,
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_NOT_WORD": "-.,",
    "CATEGORY_NOT_SPACE": "abcxyz",
}
_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]


class _Unsupported(Exception):
    pass


class _Picker:
    """Deterministic choices from a seed: the n-th choice of a walk is always the same."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self.n = 0

    def __call__(self, modulo: int) -> int:
        self.n += 1
        digest = hashlib.blake2b(f"{self.seed}\x00{self.n}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % max(1, modulo)


def _digest(seed: str) -> bytes:
    return hashlib.blake2b(seed.encode(), digest_size=16).digest()


def _date(d: bytes) -> str:
    return f"{2000 + d[0] % 30:04d}-{1 + d[1] % 12:02d}-{1 + d[2] % 28:02d}"


def _time(d: bytes) -> str:
    return f"{d[3] % 24:02d}:{d[4] % 60:02d}:{d[5] % 60:02d}Z"


def _label(d: bytes, word: str) -> str:
    clean = re.sub(r"[^a-z0-9]", "", word.lower())[:20] or "mock"
    return f"{clean}{d[6] % 100}"


FORMATS: dict[str, Callable[[bytes, str], str]] = {
    "date": lambda d, w: _date(d),
    "date-time": lambda d, w: f"{_date(d)}T{_time(d)}",
    "time": lambda d, w: _time(d),
    "email": lambda d, w: f"{_label(d, w)}@example.com",
    "uri": lambda d, w: f"https://example.com/{_label(d, w)}",
    "url": lambda d, w: f"https://example.com/{_label(d, w)}",
    "uri-reference": lambda d, w: f"/{_label(d, w)}",
    "hostname": lambda d, w: f"{_label(d, w)}.example.com",
    "uuid": lambda d, w: str(uuid.UUID(bytes=d, version=4)),
    "ipv4": lambda d, w: ".".join(str(b) for b in d[7:11]),
    "ipv6": lambda d, w: ":".join(f"{d[i]:02x}{d[i + 1]:02x}" for i in range(0, 16, 2)),
}


def formatted(fmt: str, seed: str, word: str) -> str | None:
    """A value of the named format (None for a format not known here)."""
    make = FORMATS.get(fmt)
    return make(_digest(seed), word) if make is not None else None


def matching(
    pattern: str, seed: str, min_length: int = 0, max_length: int | None = None
) -> str | None:
    """A string that `pattern` matches (searched, as JSON Schema does) within the length
    bounds, or None when none was found."""
    try:
        parsed = _parser.parse(pattern)
        compiled = re.compile(pattern)
    except (re.error, ValueError, RecursionError):
        return None
    for attempt in range(8):
        try:
            text = _Walker(_Picker(f"{seed}\x00{attempt}"), attempt).walk(parsed)
        except (_Unsupported, RecursionError):
            return None
        if compiled.search(text) and min_length <= len(text) <= (max_length or len(text)):
            return text
    return None


class _Walker:
    def __init__(self, pick: _Picker, stretch: int) -> None:
        self.pick = pick
        self.stretch = stretch  # later attempts repeat more, to reach a minLength
        self.groups: dict[int, str] = {}

    def walk(self, items: Any) -> str:
        return "".join(self.item(str(op), av) for op, av in items)

    def item(self, op: str, av: Any) -> str:
        if op == "LITERAL":
            return chr(av)
        if op == "NOT_LITERAL":
            return next(c for c in "xa0_" if ord(c) != av)
        if op == "ANY":
            return _WORD_CHARS[self.pick(len(_WORD_CHARS))]
        if op == "IN":
            return self.charset(av)
        if op == "AT":
            return ""
        if op == "BRANCH":
            branches = av[1]
            return self.walk(branches[self.pick(len(branches))])
        if op == "SUBPATTERN":
            group, _add, _del, items = av
            text = self.walk(items)
            if group is not None:
                self.groups[group] = text
            return text
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, items = av
            top = low + MAX_REPEAT_EXTRA + self.stretch
            high = top if high == _parser.MAXREPEAT else min(high, top)
            count = low + self.pick(high - low + 1)
            return "".join(self.walk(items) for _ in range(count))
        if op == "GROUPREF":
            return self.groups.get(av, "")
        if op == "ATOMIC_GROUP":
            return self.walk(av)
        raise _Unsupported(op)

    def charset(self, items: Any) -> str:
        negate = any(str(op) == "NEGATE" for op, _ in items)
        allowed: list[str] = []
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                allowed.append(chr(av))
            elif name == "RANGE":
                low, high = av
                allowed += [chr(c) for c in range(low, min(high, low + 94) + 1)]
            elif name == "CATEGORY":
                allowed += list(_CATEGORIES.get(str(av), ""))
            elif name != "NEGATE":
                raise _Unsupported(name)
        if negate:
            excluded = set(allowed)
            allowed = [c for c in _PRINTABLE if c not in excluded]
        if not allowed:
            raise _Unsupported("empty character class")
        return allowed[self.pick(len(allowed))]
