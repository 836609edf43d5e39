"""Embedding collections: a vector index saved as rows (one float32 blob per vector, its id
and its metadata, which holds the text), loaded back as the same normalised matrix."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Collection:
    name: str
    matrix: Any  # host float32 (n, dimensions), L2-normalised
    ids: list[str]
    metadata: list[dict[str, Any] | None]


def save_collection(conn: sqlite3.Connection, c: Collection) -> None:
    """Replace the saved copy of `c.name` (runs in the writer's transaction)."""
    conn.execute("DELETE FROM collection_items WHERE collection = ?", (c.name,))
    conn.execute(
        "INSERT INTO collections (name, dimensions, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET dimensions = excluded.dimensions,"
        " updated_at = excluded.updated_at",
        (c.name, int(c.matrix.shape[1]), time.time()),
    )
    conn.executemany(
        "INSERT INTO collection_items (collection, seq, item_id, vector, metadata)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            (
                c.name,
                seq,
                item_id,
                c.matrix[seq].astype("<f4").tobytes(),
                None if md is None else json.dumps(md, ensure_ascii=False),
            )
            for seq, (item_id, md) in enumerate(zip(c.ids, c.metadata, strict=True))
        ),
    )


def delete_collection(conn: sqlite3.Connection, name: str) -> bool:
    conn.execute("DELETE FROM collection_items WHERE collection = ?", (name,))
    return conn.execute("DELETE FROM collections WHERE name = ?", (name,)).rowcount > 0


def load_collections(conn: sqlite3.Connection) -> list[Collection]:
    """Every saved collection, each read as one stream of rows into one matrix."""
    import numpy as np

    out: list[Collection] = []
    for name, dims in conn.execute("SELECT name, dimensions FROM collections ORDER BY name"):
        count = conn.execute(
            "SELECT count(*) FROM collection_items WHERE collection = ?", (name,)
        ).fetchone()[0]
        matrix = np.empty((count, dims), dtype=np.float32)
        ids: list[str] = []
        metadata: list[dict[str, Any] | None] = []
        rows = conn.execute(
            "SELECT item_id, vector, metadata FROM collection_items"
            " WHERE collection = ? ORDER BY seq",
            (name,),
        )
        for n, (item_id, blob, md) in enumerate(rows):
            matrix[n] = np.frombuffer(blob, dtype="<f4")
            ids.append(item_id)
            metadata.append(None if md is None else json.loads(md))
        out.append(Collection(name, matrix, ids, metadata))
    return out
