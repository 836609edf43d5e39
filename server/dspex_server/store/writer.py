"""The store's one writer: a thread that owns the write connection.

Callers (on the event loop) hand it operations through a queue and await a future that is
resolved once the operation's transaction has COMMITTED. The thread takes the first waiting
operation, then whatever else is queued (up to `max_rows`, waiting at most `interval_ms` for
more), runs them in one transaction and commits: concurrent requests share a commit, and the
event loop never touches SQLite. If an operation fails, the batch is rolled back and run
again with each operation in a savepoint of its own, so one bad operation fails alone (the
common, all-good batch pays no savepoint per row).

Callers on an event loop use `submit_async`: the whole batch's futures are resolved by one
callback per loop (one wake-up of the loop per commit, not one per row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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


PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(directory: Path) -> None:
    """Create the store's directory readable by its user only (0700, whatever the umask).
    An existing directory is left as it is: it may be shared (store.path)."""
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        os.chmod(directory, PRIVATE_DIR)


def private_database(path: Path) -> None:
    """The database holds every prompt and answer: create it 0600 before SQLite opens it
    (SQLite gives its WAL, shared-memory and journal files the database's mode), and
    tighten the files of a store created before this rule."""
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, PRIVATE_FILE)


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
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None  # set for futures of an event loop


_Outcome = tuple[_Item, Any, BaseException | None]


class Writer:
    def __init__(
        self,
        path: Path,
        synchronous: Synchronous = "normal",
        max_rows: int = 256,
        interval_ms: float = 0.0,
        on_open: Operation | None = None,
    ) -> None:
        self.path = path
        self.on_open = on_open  # runs once on the new connection, before any operation
        self.synchronous: Synchronous = synchronous
        self.max_rows = max_rows
        self.interval_s = interval_ms / 1000
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.ready: Future[None] = Future()
        self.closed = False
        self.batches = 0  # commits made (tests and docs: rows share commits)
        self.failures = 0  # operations that failed (their rows are not in the database)

    def start(self) -> None:
        with self._lock:
            if self._thread is None and not self.closed:
                self._thread = threading.Thread(target=self._run, name="dspex-store", daemon=True)
                self._thread.start()

    def submit(self, op: Operation) -> Future[Any]:
        """Queue an operation; the future resolves after its transaction committed."""
        future: Future[Any] = Future()
        self._put(_Item(op, future))
        return future

    def submit_async(self, op: Operation) -> asyncio.Future[Any]:
        """`submit` for a caller on the running event loop, with a future of that loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._put(_Item(op, future, loop))
        return future

    def _put(self, item: _Item) -> None:
        with self._lock:
            if self.closed:  # never queue behind a stopped thread: the future would hang
                item.future.set_exception(RuntimeError("the store is closed"))
                return
            self._queue.put(item)
        self.start()

    def close(self, timeout_s: float = 10.0) -> bool:
        """Commit what is queued, then stop the thread (bounded); False if it is still
        running when the time is up."""
        with self._lock:
            self.closed = True
            thread = self._thread
            if thread is None:
                if not self.ready.done():
                    self.ready.set_exception(RuntimeError("the store is closed"))
                return True
            self._queue.put(_STOP)
        thread.join(timeout_s)
        return not thread.is_alive()

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            private_database(self.path)
            conn = connect(self.path, self.synchronous)
            migrate(conn)
            if self.on_open is not None:
                self.on_open(conn)
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
            _deliver([(item, None, exc)])

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
        try:
            try:
                outcomes = self._run_batch(conn, batch, savepoints=False)
            except _OperationFailed:
                outcomes = self._run_batch(conn, batch, savepoints=True)
            self.batches += 1
        except Exception as exc:
            log.error("store commit failed: %s", type(exc).__name__)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(item, None, exc) for item in batch]
        self.failures += sum(1 for outcome in outcomes if outcome[2] is not None)
        _deliver(outcomes)

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Item], savepoints: bool
    ) -> list[_Outcome]:
        """One transaction over the batch. Without savepoints, a failing operation rolls the
        whole transaction back and raises `_OperationFailed` (the caller retries with them)."""
        outcomes: list[_Outcome] = []
        conn.execute("BEGIN IMMEDIATE")
        for item in batch:
            if savepoints:
                conn.execute("SAVEPOINT op")
            try:
                value = item.op(conn)
            except Exception as exc:
                if not savepoints:
                    if conn.in_transaction:  # some errors end the transaction themselves
                        conn.execute("ROLLBACK")
                    raise _OperationFailed from exc
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                log.error("store operation failed: %s", type(exc).__name__)
                outcomes.append((item, None, exc))
            else:
                if savepoints:
                    conn.execute("RELEASE op")
                outcomes.append((item, value, None))
        conn.execute("COMMIT")
        return outcomes


class _OperationFailed(Exception):
    pass


def _deliver(outcomes: list[_Outcome]) -> None:
    """Resolve the futures: thread futures at once, each loop's futures in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        loop = outcome[0].loop
        if loop is None:
            _resolve(outcome)
        else:
            by_loop.setdefault(loop, []).append(outcome)
    for loop, group in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_all, group)


def _resolve_all(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        _resolve(outcome)


def _resolve(outcome: _Outcome) -> None:
    item, value, error = outcome
    future = item.future
    if future.done():  # an awaiting task was cancelled
        return
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
