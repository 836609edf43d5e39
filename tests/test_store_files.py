"""The history store holds every prompt and answer: its files are private (issue 20).
The database, its WAL and shared-memory files and the pending-rows journal are created
0600 in a directory created 0700, whatever the umask; `dspex logs --purge` empties it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from daemon import start_daemon
from store_support import db_path

USER = [{"role": "user", "content": "a private prompt"}]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest usual umask: files would be 0644 and directories 0755 by default."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_store_files_are_private_while_the_daemon_writes(
    env: dict[str, str], open_umask: None
) -> None:
    path = db_path(env)
    async with start_daemon(env) as d:
        await d.request("dspex/chat", {"messages": USER, "provider": "mock"})
        await d.request("dspex/logs/query", {})  # the row is committed: every file exists
        files = sorted(path.parent.iterdir())
        names = {f.name for f in files}
        assert {"dspex.db", "dspex.db-wal", "dspex.db-shm"} <= names, names
        assert any(".pending-" in n for n in names), names  # this daemon's journal
        assert mode(path.parent) == 0o700
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


async def test_a_store_made_world_readable_before_is_tightened(
    env: dict[str, str], open_umask: None
) -> None:
    path = db_path(env)
    async with start_daemon(env) as d:
        await d.request("dspex/chat", {"messages": USER, "provider": "mock"})
        await d.request("dspex/logs/query", {})
    os.chmod(path, 0o644)
    async with start_daemon(env) as d:
        await d.request("dspex/logs/query", {})
        assert mode(path) == 0o600


async def test_logs_purge_deletes_every_logged_exchange(
    env: dict[str, str], open_umask: None
) -> None:
    for prompt in ("first secret prompt", "second secret prompt"):
        code, _, _ = await run_cli(env, "chat", "--provider", "mock", prompt)
        assert code == 0
    code, out, _ = await run_cli(env, "logs")
    assert "second secret prompt" in out
    code, out, err = await run_cli(env, "logs", "--purge")
    assert (code, err) == (0, "")
    assert out == f"purged 2 logged exchange(s) from {db_path(env)}\n"
    code, out, _ = await run_cli(env, "logs")
    assert (code, out) == (0, "")
    assert b"secret prompt" not in db_path(env).read_bytes()
    assert mode(db_path(env)) == 0o600


async def test_no_log_keeps_nothing(env: dict[str, str]) -> None:
    code, _, _ = await run_cli(env, "--no-log", "chat", "--provider", "mock", "unlogged")
    assert code == 0
    code, out, _ = await run_cli(env, "logs")
    assert "unlogged" not in out
