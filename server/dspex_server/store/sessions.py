"""Session rows: one per session, its SessionData as (scrubbed) JSON. Ended sessions are
deleted; evicted ones are kept with state 'evicted' (not loaded, recoverable by SQL)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass


@dataclass
class SessionRow:
    session_id: str
    last_active_at: float
    data: str  # SessionData JSON, already scrubbed


def save_sessions(
    conn: sqlite3.Connection, rows: list[SessionRow], ended: list[str], evicted: list[str]
) -> None:
    stamp = time.time()
    conn.executemany(
        "INSERT INTO sessions (session_id, state, last_active_at, updated_at, data)"
        " VALUES (?, 'live', ?, ?, ?) ON CONFLICT(session_id) DO UPDATE SET state = 'live',"
        " last_active_at = excluded.last_active_at, updated_at = excluded.updated_at,"
        " data = excluded.data",
        [(r.session_id, r.last_active_at, stamp, r.data) for r in rows],
    )
    conn.executemany("DELETE FROM sessions WHERE session_id = ?", [(i,) for i in ended])
    conn.executemany(
        "UPDATE sessions SET state = 'evicted', updated_at = ? WHERE session_id = ?",
        [(stamp, i) for i in evicted],
    )


def load_sessions(conn: sqlite3.Connection, limit: int) -> list[str]:
    """The JSON of the `limit` most recently active live sessions, oldest first."""
    rows = conn.execute(
        "SELECT data FROM sessions WHERE state = 'live' ORDER BY last_active_at DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [r[0] for r in reversed(rows)]
