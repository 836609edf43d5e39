"""The pending-rows journal: how an exchange is acknowledged without waiting for SQLite.

An SQLite commit costs 0.15-0.4 ms here even in WAL mode without fsync (WAL frames for the
table, its indexes and the FTS segment, plus checkpoints); awaiting one per answer made the
history log the largest cost of a request (docs/benchmarks.md). Instead, the row (already
built and scrubbed on the event loop) is appended as one JSON line to a journal file of this
process (one `write` into the page cache: it survives a kill -9 of the daemon, like a
`synchronous=NORMAL` commit) and the answer goes out; the writer thread inserts the row in
its next batch. Once every appended row is committed, the journal is truncated.

A daemon holds an exclusive `flock` on its journal while it runs. A journal whose lock can be
taken belongs to a daemon that died: the next daemon to open the store replays it (rows
already committed are recognised by their time and correlation id and skipped), then
deletes it. A torn last line (the daemon died inside the `write`) was never acknowledged and
is dropped.

With `synchronous = "full"` the journal is not used: the answer awaits its row's fsynced
commit, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .writer import private_dir

log = logging.getLogger("dspex.store")

TRUNCATE_AT_BYTES = 1 << 20  # a settled journal is emptied once it is this large
_SUFFIX = ".jsonl"


def journal_glob(db_path: Path) -> Iterator[Path]:
    return db_path.parent.glob(f"{db_path.name}.pending-*{_SUFFIX}")


class Journal:
    """This process's journal: appended on the event loop thread only."""

    def __init__(self, db_path: Path) -> None:
        name = f"{db_path.name}.pending-{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
        self.path = db_path.parent / name
        private_dir(db_path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._fd: int | None = fd
        self.size = 0
        self.pending = 0  # appended, not yet committed
        self.failed = 0  # rows whose insert failed: they stay for the next daemon's replay

    def append(self, row: tuple[Any, ...]) -> None:
        if self._fd is None:
            raise RuntimeError("the journal is closed")
        data = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(data)
        while view:  # a regular file takes it whole; loop for the odd partial write
            view = view[os.write(self._fd, view) :]
        self.size += len(data)
        self.pending += 1

    def settled(self, rows: int, ok: bool) -> None:
        """Rows' insert finished (committed, or failed and kept for replay)."""
        self.pending -= rows
        if not ok:
            self.failed += rows
        if self.pending == 0 and not self.failed and self.size >= TRUNCATE_AT_BYTES:
            self._truncate()

    def _truncate(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            self.size = 0

    def close(self, all_committed: bool) -> None:
        """Remove the journal when everything in it is committed; else leave it (locked
        until this process exits) for the next daemon to replay."""
        if self._fd is None:
            return
        if all_committed and not self.failed:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self._fd)
        self._fd = None


def replay_orphans(conn: sqlite3.Connection, db_path: Path, own: Path | None) -> int:
    """Insert the rows of dead daemons' journals that are not committed yet; returns how
    many were inserted. Runs on the writer thread when it opens the database."""
    from .logs import insert_rows

    inserted = 0
    for path in sorted(journal_glob(db_path)):
        if own is not None and path == own:
            continue
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue  # replayed and removed by another daemon meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live daemon's journal
            if not os.path.exists(path):
                continue  # another daemon finished replaying it before we got the lock
            conn.execute("BEGIN IMMEDIATE")
            try:
                missing = [row for row in _read_rows(path) if not _committed(conn, row)]
                insert_rows(conn, missing)
                inserted += len(missing)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            path.unlink()
        finally:
            os.close(fd)
    if inserted:
        log.warning("recovered %d logged exchange(s) from a daemon that stopped", inserted)
    return inserted


def _read_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    data = path.read_bytes()
    for line in data.split(b"\n")[:-1]:  # the part after the last newline is torn
        try:
            row = json.loads(line)
        except ValueError:
            log.error("skipped an unreadable line in %s", path.name)
            continue
        if isinstance(row, list):
            yield tuple(row)


def _committed(conn: sqlite3.Connection, row: tuple[Any, ...]) -> bool:
    at, correlation_id = row[0], row[2]
    found = conn.execute(
        "SELECT 1 FROM exchanges WHERE at = ? AND correlation_id IS ? LIMIT 1",
        (at, correlation_id),
    ).fetchone()
    return found is not None
