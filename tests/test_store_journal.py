"""The pending-rows journal (store/journal.py): appended rows survive the daemon, a dead
daemon's journal is replayed exactly once, a live daemon's is left alone, a torn last line is
dropped."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from dspex_protocol import ChatParams
from dspex_server.config import ConfigStore
from dspex_server.store import service
from dspex_server.store.journal import TRUNCATE_AT_BYTES, Journal, journal_glob, replay_orphans
from dspex_server.store.schema import migrate
from dspex_server.store.writer import connect
from dspex_server.telemetry import Exchange


def row(i: int, text: str = "hello") -> tuple[Any, ...]:
    request = json.dumps({"messages": [{"role": "user", "content": f"{text} {i}"}]})
    return (
        1_700_000_000.0 + i,  # at
        "chat",
        f"corr-{i}",
        None,
        "mock",
        "mock-1",
        request,
        json.dumps({"message": {"role": "assistant", "content": "ok"}}),
        None,
        None,
        3,
        1,
        4,
        None,
        1.5,
        0,
        f"{text} {i}",
        "ok",
    )


def db(tmp_path: Path) -> Path:
    path = tmp_path / "dspex.db"
    conn = connect(path)
    migrate(conn)
    conn.close()
    return path


def logged(path: Path) -> list[str]:
    conn = connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT correlation_id FROM exchanges ORDER BY at")]
    finally:
        conn.close()


def test_a_dead_daemons_journal_is_replayed_once_and_removed(tmp_path: Path) -> None:
    path = db(tmp_path)
    journal = Journal(path)
    for i in range(5):
        journal.append(row(i))
    saved = journal.path.read_bytes()
    journal.close(all_committed=False)  # the daemon died: the file stays, unlocked
    conn = connect(path)
    assert replay_orphans(conn, path, own=None) == 5
    assert logged(path) == [f"corr-{i}" for i in range(5)]
    assert not list(journal_glob(path))
    # The same rows again (a daemon killed after its commit, before removing its journal):
    # nothing is inserted twice.
    journal.path.write_bytes(saved)
    assert replay_orphans(conn, path, own=None) == 0
    assert len(logged(path)) == 5
    # FTS search sees the replayed rows.
    hits = conn.execute("SELECT rowid FROM exchanges_fts WHERE exchanges_fts MATCH 'hello'")
    assert len(hits.fetchall()) == 5
    conn.close()


def test_a_live_daemons_journal_is_not_replayed(tmp_path: Path) -> None:
    path = db(tmp_path)
    live = Journal(path)  # holds its lock, like a running daemon
    live.append(row(1))
    conn = connect(path)
    assert replay_orphans(conn, path, own=None) == 0
    assert logged(path) == []
    assert live.path.exists()
    live.close(all_committed=True)
    assert not live.path.exists()
    conn.close()


def test_a_torn_last_line_was_never_acknowledged_and_is_dropped(tmp_path: Path) -> None:
    path = db(tmp_path)
    journal = Journal(path)
    journal.append(row(1))
    journal.append(row(2))
    journal.close(all_committed=False)
    data = journal.path.read_bytes()
    journal.path.write_bytes(data[: len(data) - 20])  # the second write was cut short
    conn = connect(path)
    assert replay_orphans(conn, path, own=None) == 1
    assert logged(path) == ["corr-1"]
    conn.close()


def test_a_settled_journal_is_emptied_and_a_failed_row_keeps_it(tmp_path: Path) -> None:
    path = db(tmp_path)
    journal = Journal(path)
    big = "x" * 4096
    n = TRUNCATE_AT_BYTES // 4096 + 2
    for i in range(n):
        journal.append(row(i, big))
    journal.settled(n - 1, ok=True)
    assert journal.path.stat().st_size > TRUNCATE_AT_BYTES  # one row still pending
    journal.settled(1, ok=True)
    assert journal.path.stat().st_size == 0
    journal.append(row(n))
    journal.settled(1, ok=False)  # its insert failed: it must survive for a replay
    journal.close(all_committed=True)
    assert journal.path.exists()
    assert len(journal.path.read_bytes().splitlines()) == 1


async def test_answers_wait_for_the_writer_when_it_falls_too_far_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A flood keeps the loop busy; without backpressure the rows the writer has not
    # committed yet would pile up in memory (bench memory measured +76 MB over 100,000).
    monkeypatch.setattr(service, "MAX_BACKLOG_ROWS", 3)
    config = ConfigStore({"DSPEX_CONFIG": "/dev/null"})
    config.set_editor_settings(
        "initializationOptions",
        {"store": {"path": str(tmp_path / "dspex.db"), "flushIntervalMs": 300}},
    )
    store = service.Store(config, lambda: (), {})
    try:
        for i in range(3):
            await store.record(exchange(i))
        journal = store.journal()
        assert journal is not None and journal.pending == 3
        started = time.monotonic()
        await store.record(exchange(3))  # the 4th: must wait for a commit
        assert time.monotonic() - started >= 0.2  # the writer held back 300 ms
        assert journal.pending == 0
        assert store.writer().batches >= 1
    finally:
        await asyncio.to_thread(store.close)
    assert logged(tmp_path / "dspex.db") == [f"corr-{i}" for i in range(4)]


async def test_rows_logged_within_the_batch_window_share_one_hand_off(tmp_path: Path) -> None:
    config = ConfigStore({"DSPEX_CONFIG": "/dev/null"})
    config.set_editor_settings(
        "initializationOptions",
        {"store": {"path": str(tmp_path / "dspex.db"), "logBatchMs": 50}},
    )
    store = service.Store(config, lambda: (), {})
    try:
        for i in range(5):  # sequential requests, a loop pass or more apart
            await store.record(exchange(i))
            await asyncio.sleep(0.001)
        journal = store.journal()
        assert journal is not None and journal.pending == 5  # journaled, not handed over
        writer = store.writer()
        await asyncio.sleep(0.3)
        assert journal.pending == 0 and writer.batches == 1  # one commit for the five
    finally:
        await asyncio.to_thread(store.close)
    assert logged(tmp_path / "dspex.db") == [f"corr-{i}" for i in range(5)]


def exchange(i: int) -> Exchange:
    params = ChatParams.model_validate(
        {"provider": "mock", "messages": [{"role": "user", "content": f"hello {i}"}]}
    )
    return Exchange("chat", f"corr-{i}", 1_700_000_000.0 + i, 1.0, params, provider="mock")
