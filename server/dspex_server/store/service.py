"""The store as the daemon sees it: lazy, off the event loop, turned off by config.

Nothing touches the disk until the first write or read; then the writer thread opens the
database (creating and migrating it). Reads run on worker threads with connections of
their own (WAL lets them read while the writer writes).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..config import ConfigStore, StoreSettings
from ..telemetry import Exchange
from .collections import Collection, delete_collection, load_collections, save_collection
from .history import HistoryGroup, latency_groups
from .logs import insert_exchange, query_logs
from .sessions import SessionRow, load_sessions, save_sessions
from .writer import Writer, connect

log = logging.getLogger("dspex.store")

T = TypeVar("T")

NO_LOG_ENV = "DSPEX_NO_LOG"


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dspex")) / "dspex.db"


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


class Store:
    def __init__(
        self,
        config: ConfigStore,
        secrets: Callable[[], Iterable[str]],
        environ: Mapping[str, str],
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.no_log = env_flag(environ, NO_LOG_ENV)
        self._writer: Writer | None = None

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
            self._writer = Writer(self.path, s.synchronous, s.flush_max_rows, s.flush_interval_ms)
        return self._writer

    async def write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run `op` in the writer's next transaction; returns after it committed."""
        result: T = await asyncio.wrap_future(self.writer().submit(op))
        return result

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` on a worker thread with a read connection of its own."""
        writer = self.writer()
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
        """The pipeline's exchange sink: returns once the row is committed."""
        if not self.logging:
            return
        secrets = [s for s in self.secrets() if s]
        await self.write(lambda conn: insert_exchange(conn, exchange, secrets))

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
    ) -> list[HistoryGroup]:
        return await self.read(lambda conn: latency_groups(conn, keys, since, until, max_samples))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
