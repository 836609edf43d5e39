"""The store as the daemon sees it: lazy, off the event loop, turned off by config.

Nothing touches the disk until the first write or read; then the writer thread opens the
database (creating and migrating it). Reads run on worker threads with connections of
their own (WAL lets them read while the writer writes).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..config import ConfigStore, StoreSettings
from ..telemetry import Exchange
from .collections import Collection, delete_collection, load_collections, save_collection
from .history import HistoryGroup, latency_groups
from .journal import Journal, replay_orphans
from .logs import Row, exchange_row, insert_rows, query_logs
from .sessions import SessionRow, load_sessions, save_sessions
from .writer import Writer, connect

log = logging.getLogger("dspex.store")

T = TypeVar("T")

NO_LOG_ENV = "DSPEX_NO_LOG"


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dspex")) / "dspex.db"


MAX_BACKLOG_ROWS = 1024  # journaled rows the writer may be behind before answers wait


def _nothing(_: sqlite3.Connection) -> None:
    return None


def _settled(journal: Journal, rows: int, future: asyncio.Future[Any]) -> None:
    journal.settled(rows, ok=not future.cancelled() and future.exception() is None)


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


class Store:
    def __init__(
        self,
        config: ConfigStore,
        secrets: Callable[[], Sequence[str]],
        environ: Mapping[str, str],
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.no_log = env_flag(environ, NO_LOG_ENV)
        self._writer: Writer | None = None
        self._journal: Journal | None = None
        self._journal_failed = False
        self._rows: list[Row] = []  # journaled, not yet handed to the writer
        self._barrier: asyncio.Future[None] | None = None

    @property
    def settings(self) -> StoreSettings:
        return self.config.settings.store

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    @property
    def logging(self) -> bool:
        return self.enabled and self.settings.log_requests and not self.no_log

    @property
    def path(self) -> Path:
        """Fixed by the first use: a later settings change does not move an open store."""
        if self._writer is not None:
            return self._writer.path
        configured = self.settings.path
        return Path(configured).expanduser() if configured else default_path()

    def writer(self) -> Writer:
        if self._writer is None:
            s = self.settings
            self._writer = Writer(
                self.path, s.synchronous, s.flush_max_rows, s.flush_interval_ms, self._on_open
            )
        return self._writer

    def _on_open(self, conn: sqlite3.Connection) -> None:
        """On the writer thread, once: recover the rows of daemons that died (journal.py)."""
        own = self._journal.path if self._journal is not None else None
        try:
            replay_orphans(conn, self.path, own)
        except Exception as exc:  # never keep the store from opening
            log.error("could not replay a pending-rows journal: %s", type(exc).__name__)

    def journal(self) -> Journal | None:
        """This daemon's journal, opened on the first logged exchange; None when answers
        wait for the commit instead (synchronous=full, or the journal cannot be created)."""
        if self._journal is None and not self._journal_failed:
            if self.settings.synchronous == "full":
                self._journal_failed = True
                return None
            try:
                self._journal = Journal(self.path)
            except OSError as exc:
                log.error("no pending-rows journal (%s): answers wait for commits", exc)
                self._journal_failed = True
        return self._journal

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op` in the writer's next transaction; returns after it committed."""
        result: T = await self.writer().submit_async(op)
        return result

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on a worker thread with a read connection of its own. It sees every
        row this daemon has acknowledged: queued rows are committed first."""
        writer = self.writer()
        if self._journal is not None and self._journal.pending:
            self._hand_over()
            await writer.submit_async(_nothing)  # FIFO: commits after what is queued
        writer.start()
        await asyncio.wrap_future(writer.ready)  # created and migrated

        def work() -> T:
            conn = connect(writer.path, writer.synchronous)
            try:
                return fn(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(work)

    # -- logs ---------------------------------------------------------------------------

    async def record(self, exchange: Exchange) -> None:
        """The pipeline's exchange sink: returns once the row is durable, i.e. in this
        daemon's journal (journal.py) or, without one, committed."""
        if not self.logging:
            return
        row = exchange_row(exchange, self.secrets())
        journal = self.journal()
        if journal is None:
            await self.write(lambda conn: insert_rows(conn, [row]))
            return
        journal.append(row)
        # Rows logged within `logBatchMs` go to the writer as one operation: one queue
        # hand-off, thread wake-up and commit (and one loop wake-up when it is done) per
        # batch, not per request; the journal already holds them (bench: added latency).
        if not self._rows:
            loop = asyncio.get_running_loop()
            delay = self.settings.log_batch_ms / 1000
            if delay > 0:
                loop.call_later(delay, self._hand_over)
            else:
                loop.call_soon(self._hand_over)
        self._rows.append(row)
        if journal.pending > MAX_BACKLOG_ROWS:
            await self._caught_up()

    async def _caught_up(self) -> None:
        """Backpressure: while the writer is more than MAX_BACKLOG_ROWS behind (a flood
        keeps the loop busy and the writer thread waits for the GIL), answers wait for it
        to commit what is queued, so memory stays bounded (bench memory)."""
        barrier = self._barrier
        if barrier is None or barrier.done():
            self._hand_over()
            barrier = self._barrier = self.writer().submit_async(_nothing)
        await asyncio.shield(barrier)

    def _hand_over(self) -> None:
        rows, self._rows = self._rows, []
        journal = self._journal
        if not rows or journal is None:
            return
        future = self.writer().submit_async(lambda conn: insert_rows(conn, rows))
        future.add_done_callback(lambda f: _settled(journal, len(rows), f))

    async def query_logs(self, params: Any) -> Any:
        return await self.read(lambda conn: query_logs(conn, params, self.logging))

    # -- collections --------------------------------------------------------------------

    async def save_collection(self, collection: Collection) -> None:
        await self.write(lambda conn: save_collection(conn, collection))

    async def forget_collection(self, name: str) -> bool:
        return await self.write(lambda conn: delete_collection(conn, name))

    async def load_collections(self) -> list[Collection]:
        if not self.enabled:
            return []
        return await self.read(load_collections)

    # -- sessions -----------------------------------------------------------------------

    async def save_sessions(
        self, rows: list[SessionRow], ended: list[str], evicted: list[str]
    ) -> None:
        """Upsert changed sessions, delete ended ones; returns after the commit."""
        if not self.enabled:
            return
        await self.write(lambda conn: save_sessions(conn, rows, ended, evicted))

    async def load_sessions(self, limit: int) -> list[str]:
        if not self.enabled:
            return []
        return await self.read(lambda conn: load_sessions(conn, limit))

    # -- analytics' long-term history ---------------------------------------------------

    async def history_groups(
        self,
        keys: list[tuple[str, str | None]] | None,
        since: datetime | None,
        until: datetime | None,
        max_samples: int,
        on_group: Callable[[int, int], None] | None = None,
    ) -> list[HistoryGroup]:
        return await self.read(
            lambda conn: latency_groups(conn, keys, since, until, max_samples, on_group)
        )

    def close(self) -> None:
        if self._rows:  # handed over by the loop, normally
            rows, self._rows = self._rows, []
            self.writer().submit(lambda conn: insert_rows(conn, rows))
        writer = self._writer
        stopped = writer.close() if writer is not None else True
        if self._journal is not None:
            # Once the writer stopped, everything queued was committed (or failed: then the
            # journal stays for the next daemon to replay).
            self._journal.close(stopped and (writer is None or writer.failures == 0))
