"""The one writer: operations queued while a commit runs share the next commit; one failing
operation fails alone; the schema is migrated once and versioned."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dspex_server.store.schema import MIGRATIONS
from dspex_server.store.writer import Writer


def insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def op(conn: sqlite3.Connection) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        return int(conn.execute("INSERT INTO t (v) VALUES (?)", (value,)).lastrowid or 0)

    return op


def test_concurrent_operations_share_commits_and_all_commit(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.db", max_rows=64)
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        started.set()
        threading.Event().wait(0.2)  # a commit in progress while others queue up

    first = writer.submit(slow)
    started.wait(5)
    futures = [writer.submit(insert(i)) for i in range(200)]
    assert all(f.result(10) > 0 for f in futures)
    first.result(5)
    assert writer.batches <= 1 + 200 // 64 + 1  # 200 rows in a handful of commits
    writer.close()
    conn = sqlite3.connect(tmp_path / "w.db")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 200
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_a_failing_operation_fails_alone(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.db", interval_ms=50)  # one batch for the three

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (v) VALUES (99)")
        raise RuntimeError("boom")

    writer.submit(lambda c: c.execute("CREATE TABLE t (v INTEGER)")).result(5)
    good1, failing, good2 = (
        writer.submit(insert(1)),
        writer.submit(bad),
        writer.submit(insert(2)),
    )
    assert good1.result(5) and good2.result(5)
    with pytest.raises(RuntimeError):
        failing.result(5)
    writer.close()
    rows = sqlite3.connect(tmp_path / "w.db").execute("SELECT v FROM t ORDER BY v").fetchall()
    assert rows == [(1,), (2,)]


def test_a_store_that_cannot_open_fails_its_operations(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    writer = Writer(blocker / "sub" / "w.db")
    with pytest.raises(OSError):
        writer.submit(insert(1)).result(5)
    writer.close()


async def test_the_event_loop_awaits_commits_without_blocking(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.db")
    results = await asyncio.gather(
        *(asyncio.wrap_future(writer.submit(insert(i))) for i in range(20))
    )
    assert sorted(results) == list(range(1, 21))
    writer.close()


def test_operations_after_close_fail_instead_of_hanging(tmp_path: Path) -> None:
    writer = Writer(tmp_path / "w.db")
    assert writer.submit(insert(1)).result(5) == 1
    writer.close()
    with pytest.raises(RuntimeError):
        writer.submit(insert(2)).result(5)
    unused = Writer(tmp_path / "never.db")
    unused.close()
    with pytest.raises(RuntimeError):
        unused.ready.result(5)
    assert not (tmp_path / "never.db").exists()
