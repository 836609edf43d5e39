"""`dspex logs --purge`: delete every logged exchange, from the database file itself.

Run by the command line without a daemon (like `dspex keys`); a daemon writing to the same
store meanwhile is safe (SQLite's locks). The deleted text does not linger: the database is
vacuumed and its WAL truncated, and the pending-rows journals of daemons that died (which
would be replayed into the log) are removed. Live daemons' journals hold rows that are
committed within milliseconds, and are left to them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .journal import journal_glob
from .schema import migrate
from .writer import connect, private_database


def purge_logs(db_path: Path) -> int:
    """Delete every logged exchange; returns how many there were."""
    _remove_orphan_journals(db_path)
    if not db_path.exists():
        return 0
    private_database(db_path)
    conn = connect(db_path)
    try:
        migrate(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = conn.execute("DELETE FROM exchanges").rowcount
            conn.execute("DELETE FROM exchanges_fts")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return int(deleted)


def _remove_orphan_journals(db_path: Path) -> None:
    if not db_path.parent.is_dir():
        return
    for path in journal_glob(db_path):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live daemon's journal
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)
