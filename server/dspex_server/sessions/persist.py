"""Session files: the autosave file (atomic: temp file + os.replace) and secret scrubbing."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8  # shorter "secrets" would redact ordinary words


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (JSON-ready data) with every occurrence of a known secret replaced."""
    found = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
    if not found:
        return value
    return _scrub(value, found)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def write_atomic(path: Path, text: str) -> None:
    """Write `text` so that a reader (or a crash) sees the old file or the new one, never a
    half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def evicted_path(autosave: Path, session_id: str) -> Path:
    return autosave.parent / "evicted" / f"{session_id}.json"
