"""Long-term history for the analytics: per-provider latency groups read from the logged
exchanges in a time range. Counts are aggregated in SQL; latencies are streamed from the
cursor into compact arrays, at most `max_samples` per group (a uniform random sample drawn
by SQLite's bounded ORDER BY random() LIMIT beyond it), so memory stays bounded however
long the history."""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_FAR_FUTURE = 1e12


@dataclass
class HistoryGroup:
    name: str
    latencies_ms: array[float]
    successes: int
    requests: int
    costs: array[float]


def _range(since: datetime | None, until: datetime | None) -> tuple[float, float]:
    return (
        since.timestamp() if since is not None else 0.0,
        until.timestamp() if until is not None else _FAR_FUTURE,
    )


def latency_groups(
    conn: sqlite3.Connection,
    keys: list[tuple[str, str | None]] | None,
    since: datetime | None,
    until: datetime | None,
    max_samples: int,
    on_group: Callable[[int, int], None] | None = None,
) -> list[HistoryGroup]:
    """`on_group(done, total)` is told after each group is read (on this thread)."""
    start, end = _range(since, until)
    base = "FROM exchanges WHERE operation = 'chat' AND at >= ? AND at < ?"
    if keys is None:
        providers = conn.execute(
            f"SELECT DISTINCT provider {base} AND provider IS NOT NULL ORDER BY provider",
            (start, end),
        ).fetchall()
        keys = [(p, None) for (p,) in providers]
    groups: list[HistoryGroup] = []
    for provider, model in keys:
        where = base + " AND provider = ?"
        args: list[object] = [start, end, provider]
        if model is not None:  # the model asked for, or the one that answered
            where += " AND (json_extract(request, '$.model') = ? OR model = ?)"
            args += [model, model]
        requests, successes = conn.execute(
            f"SELECT count(*), coalesce(sum(error_kind IS NULL), 0) {where}", args
        ).fetchone()
        sql = f"SELECT latency_ms, cost_usd {where} AND error_kind IS NULL AND latency_ms NOT NULL"
        if successes > max_samples:
            sql += " ORDER BY random() LIMIT ?"
            args = [*args, max_samples]
        latencies, costs = array("d"), array("d")
        for latency, cost in conn.execute(sql, args):
            latencies.append(latency)
            if cost is not None:
                costs.append(cost)
        name = provider if model is None else f"{provider}/{model}"
        groups.append(HistoryGroup(name, latencies, int(successes), int(requests), costs))
        if on_group is not None:
            on_group(len(groups), len(keys))
    return groups
