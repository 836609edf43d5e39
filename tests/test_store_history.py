"""`dspex/analytics/compare` over the logged history (`since`/`until`): a restarted daemon
compares providers from the store; groups are bounded by maxSamples with exact counts."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemon import start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from pygls.exceptions import JsonRpcException

from dspex_server.store.history import latency_groups
from dspex_server.store.schema import migrate


async def test_compare_reads_the_logged_history_after_restart(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    fake_openai.queue(*[Reply(text="slow", delay_s=0.05)] * 25)
    async with start_daemon(env) as d:
        for provider in ("mock", "openai"):
            await asyncio.gather(
                *(
                    d.request(
                        "dspex/chat",
                        {"messages": [{"role": "user", "content": "x"}], "provider": provider},
                    )
                    for _ in range(25)
                )
            )
    async with start_daemon(env) as d:
        live = await d.request(
            "dspex/analytics/compare", {"targets": [{"provider": "mock"}, {"provider": "openai"}]}
        )
        assert all(r["samples"] == 0 for r in live["rankings"])  # a fresh daemon's window
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        result = await d.request("dspex/analytics/compare", {"since": since, "minSamples": 20})
        ranks = {r["name"]: r for r in result["rankings"]}
        assert set(ranks) == {"mock", "openai"}
        assert ranks["mock"]["samples"] == ranks["openai"]["samples"] == 25
        assert ranks["mock"]["rank"] == 1 and ranks["openai"]["meanLatencyMs"] >= 50
        assert result["recommendation"] == "mock"
        future = await d.request(
            "dspex/analytics/compare",
            {
                "targets": [{"provider": "mock"}, {"provider": "openai"}],
                "since": "2999-01-01T00:00:00Z",
            },
        )
        assert all(r["samples"] == 0 for r in future["rankings"])
        with pytest.raises(JsonRpcException):
            await d.request(
                "dspex/analytics/compare",
                {
                    "since": since,
                    "samples": {"a": {"latencies": [1, 2]}, "b": {"latencies": [1, 2]}},
                },
            )


def test_history_groups_sample_in_sql_and_count_exactly(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    migrate(conn)
    now = time.time()
    rows = [
        (
            now - i,
            "chat",
            f"c{i}",
            "p",
            "m",
            '{"model": "m"}',
            None if i % 10 else "timeout",
            float(i),
        )
        for i in range(1000)
    ]
    conn.executemany(
        "INSERT INTO exchanges (at, operation, correlation_id, provider, model, request,"
        " error_kind, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    (group,) = latency_groups(conn, [("p", "m")], None, None, max_samples=100)
    assert (group.requests, group.successes) == (1000, 900)
    assert len(group.latencies_ms) == 100 and len(set(group.latencies_ms)) == 100
    assert all(v % 10 for v in group.latencies_ms)  # only successful exchanges
    (recent,) = latency_groups(
        conn, None, datetime.fromtimestamp(now - 99.5, UTC), None, max_samples=1000
    )
    assert (recent.name, recent.requests, recent.successes) == ("p", 100, 90)
