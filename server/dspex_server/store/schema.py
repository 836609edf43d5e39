"""The store's schema: numbered migrations, applied in order, recorded in `user_version`.

A migration is never edited once released: a change is a new migration at the end.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: exchanges (one row per chat/embed request, success or error) and their FTS index.
    """
    CREATE TABLE exchanges (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        operation TEXT NOT NULL,
        correlation_id TEXT NOT NULL,
        session_id TEXT,
        provider TEXT,
        model TEXT,
        request TEXT NOT NULL,
        response TEXT,
        error_kind TEXT,
        error_message TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        total_tokens INTEGER,
        cost_usd REAL,
        latency_ms REAL,
        streamed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX exchanges_at ON exchanges(at);
    CREATE INDEX exchanges_provider_at ON exchanges(provider, model, at);
    CREATE INDEX exchanges_session ON exchanges(session_id, at);
    CREATE VIRTUAL TABLE exchanges_fts USING fts5(prompt, answer, tokenize='unicode61');
    """,
    # 2: embedding collections (persisted vector indexes).
    """
    CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        dimensions INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE collection_items (
        collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        item_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        metadata TEXT,
        PRIMARY KEY (collection, seq)
    );
    """,
    # 3: sessions (dspex/session/*): each session's SessionData as scrubbed JSON.
    """
    CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        state TEXT NOT NULL DEFAULT 'live',
        last_active_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX sessions_state ON sessions(state, last_active_at);
    """,
)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest version; returns it. Each step is one transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"the store's schema version {version} is newer than this dspex "
            f"({len(MIGRATIONS)}); upgrade dspex"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
