"""The store's one writer: a thread that owns the write connection.

Callers (on the event loop) hand it operations through a queue and await a future that is
resolved once the operation's transaction has COMMITTED. The thread takes the first waiting
operation, then whatever else is queued (up to `max_rows`, waiting at most `interval_ms` for
more), runs them in one transaction (each in a savepoint of its own, so one bad operation
fails alone) and commits: concurrent requests share a commit, and the event loop never
touches SQLite.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .schema import migrate

log = logging.getLogger("dspex.store")

Operation = Callable[[sqlite3.Connection], Any]
Synchronous = Literal["normal", "full"]
_STOP = object()


def connect(path: Path, synchronous: Synchronous = "normal") -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@dataclass
class _Item:
    op: Operation
    future: Future[Any]


class Writer:
    def __init__(
        self,
        path: Path,
        synchronous: Synchronous = "normal",
        max_rows: int = 256,
        interval_ms: float = 0.0,
    ) -> None:
        self.path = path
        self.synchronous: Synchronous = synchronous
        self.max_rows = max_rows
        self.interval_s = interval_ms / 1000
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.ready: Future[None] = Future()
        self.closed = False
        self.batches = 0  # commits made (tests and docs: rows share commits)

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self.closed:
                self._thread = threading.Thread(target=self._run, name="dspex-store", daemon=True)
                self._thread.start()

    def submit(self, op: Operation) -> Future[Any]:
        """Queue an operation; the future resolves after its transaction committed."""
        future: Future[Any] = Future()
        with self._lock:
            if self.closed:  # never queue behind a stopped thread: the future would hang
                future.set_exception(RuntimeError("the store is closed"))
                return future
            self._queue.put(_Item(op, future))
        self.start()
        return future

    def close(self, timeout_s: float = 10.0) -> None:
        """Commit what is queued, then stop the thread (bounded)."""
        with self._lock:
            self.closed = True
            thread = self._thread
            if thread is None:
                if not self.ready.done():
                    self.ready.set_exception(RuntimeError("the store is closed"))
                return
            self._queue.put(_STOP)
        thread.join(timeout_s)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, self.synchronous)
            migrate(conn)
        except Exception as exc:
            log.error("cannot open the store at %s: %s", self.path, type(exc).__name__)
            self.ready.set_exception(exc)
            self._fail_forever(exc)
            return
        self.ready.set_result(None)
        try:
            self._loop(conn)
        finally:
            conn.close()

    def _fail_forever(self, exc: BaseException) -> None:
        while (item := self._queue.get()) is not _STOP:
            item.future.set_exception(exc)

    def _collect(self, first: _Item) -> tuple[list[_Item], bool]:
        batch, stop = [first], False
        deadline = time.monotonic() + self.interval_s
        while len(batch) < self.max_rows:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else None
                if item is None:
                    item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _loop(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._collect(first)
            self._commit(conn, batch)
            # Hold no operation (an exchange, its future) while waiting for the next one.
            del first, batch
            if stop:
                return

    def _commit(self, conn: sqlite3.Connection, batch: list[_Item]) -> None:
        results: list[tuple[_Item, Any, BaseException | None]] = []
        # One cursor for the batch's own statements: sqlite3 keeps a weak reference per
        # cursor created (up to 200 alive), and those kept a burst's memory pinned.
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            for item in batch:
                cur.execute("SAVEPOINT op")
                try:
                    value = item.op(conn)
                except Exception as exc:
                    cur.execute("ROLLBACK TO op")
                    cur.execute("RELEASE op")
                    log.error("store operation failed: %s", type(exc).__name__)
                    results.append((item, None, exc))
                else:
                    cur.execute("RELEASE op")
                    results.append((item, value, None))
            cur.execute("COMMIT")
            self.batches += 1
        except Exception as exc:
            log.error("store commit failed: %s", type(exc).__name__)
            if conn.in_transaction:
                cur.execute("ROLLBACK")
            for item in batch:
                item.future.set_exception(exc)
            return
        for item, value, error in results:
            if error is None:
                item.future.set_result(value)
            else:
                item.future.set_exception(error)
