"""The TOML config file: reading it, and naming a refused key as the user wrote it, with
the line it is on (`<file>:<line>: <key>: <reason>`).

Validation sees the keys after the layers were merged (camelCase); the messages name them
as they appear in the file (snake_case), found by walking the file's own data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Loc = tuple[int | str, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
)
_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


@dataclass(frozen=True)
class Issue:
    """One refused setting: where it is (as written in its layer) and why."""

    loc: Loc
    reason: str


class ConfigFileError(Exception):
    """The file cannot be used at all; `messages` are already in `<file>:<line>:` form."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def read_toml(path: Path, *, required: bool) -> tuple[dict[str, Any], str]:
    """(data, text) of the file; a missing file is empty unless `required` ($DSPEX_CONFIG)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigFileError(
                [f"{path}: no such file (named by DSPEX_CONFIG; unset it or create the file)"]
            ) from None
        return {}, ""
    except IsADirectoryError:
        raise ConfigFileError([f"{path}: is a directory, not a TOML file"]) from None
    except OSError as exc:
        raise ConfigFileError([f"{path}: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigFileError([f"{path}:1: not UTF-8 text"]) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError([syntax_message(path, text, str(exc))]) from None


def syntax_message(path: Path, text: str, error: str) -> str:
    found = _SYNTAX_AT.search(error)
    reason = _SYNTAX_AT.sub("", error) if found else error
    line = int(found.group(1)) if found else 1
    lines = text.splitlines()
    key = None
    if 0 < line <= len(lines):
        match = _KEY.match(lines[line - 1])
        key = _strip_parts(match.group(1)) if match else None
    where = f"{path}:{line}"
    return f"{where}: {'.'.join(key)}: {reason}" if key else f"{where}: {reason}"


def as_written(raw: Any, loc: Loc) -> Loc:
    """The location with each key spelled as in `raw` (validation reports camelCase)."""
    from pydantic.alias_generators import to_camel, to_snake

    out: list[int | str] = []
    node = raw
    for part in loc:
        if isinstance(node, Mapping) and isinstance(part, str):
            if part in node:
                key: str = part
            else:
                key = next(
                    (
                        k
                        for k in node
                        if isinstance(k, str) and (to_camel(k) == part or to_snake(k) == part)
                    ),
                    to_snake(part),
                )
            out.append(key)
            node = node.get(key)
        elif isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else None
        else:
            out.append(part)
            node = None
    return tuple(out)


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _strip_parts(key: str) -> list[str]:
    return [p.strip("\"'") for p in _PART.findall(key)]


def key_lines(text: str) -> list[tuple[Loc, int]]:
    """Every table header and key of a TOML text with its full path and line (1-based)."""
    found: list[tuple[Loc, int]] = []
    table: Loc = ()
    counts: dict[Loc, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            path: Loc = tuple(_strip_parts(header.group(2)))
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                path = (*path, index)
            table = path
            found.append((table, number))
            continue
        key = _KEY.match(line)
        if key:
            found.append(((*table, *_strip_parts(key.group(1))), number))
    return found


def line_of(text: str, loc: Loc) -> int:
    """The line of the longest prefix of `loc` the text names (1 when none does)."""
    best, best_len = 1, -1
    for path, number in key_lines(text):
        if len(path) > best_len and tuple(loc[: len(path)]) == path:
            best, best_len = number, len(path)
    return best


def file_messages(path: Path, text: str, raw: Mapping[str, Any], issues: list[Issue]) -> list[str]:
    out = []
    for issue in issues:
        loc = as_written(raw, issue.loc)
        out.append(f"{path}:{line_of(text, loc)}: {dotted(loc)}: {issue.reason}")
    return out
