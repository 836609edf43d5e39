"""Helpers for the store tests: where a test daemon's database lives, its raw bytes."""

from __future__ import annotations

from pathlib import Path


def db_path(env: dict[str, str]) -> Path:
    """The default store path of a daemon started with `clean_env` (XDG_DATA_HOME)."""
    return Path(env["XDG_DATA_HOME"]) / "dspex" / "dspex.db"


def raw_bytes(env: dict[str, str]) -> bytes:
    """The database file and its -wal/-shm companions, as they are on disk."""
    path = db_path(env)
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
