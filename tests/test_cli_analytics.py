"""`dspex analytics|index|call` and the client's typed analytics calls, against the daemon."""

from __future__ import annotations

import json
import sys

import pytest
from cli_runner import run_cli

from dspex_client import DspexClient, InvalidParamsError, SyncClient

SERVER = [sys.executable, "-m", "dspex_server"]


async def test_performance_of_given_samples(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "analytics", "performance", "--samples", "10,12,11,30")
    assert code == 0
    result = json.loads(out)
    assert result["count"] == 4
    assert result["mean"] == pytest.approx(15.75)
    assert result["min"] == 10 and result["max"] == 30


async def test_performance_reads_samples_from_stdin(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(
        env, "analytics", "performance", "--samples", "-", stdin="1 2 3\n4\n"
    )
    assert code == 0
    assert json.loads(out)["p50"] == pytest.approx(2.5)


async def test_index_add_query_list_drop_through_the_cli(env: dict[str, str]) -> None:
    # Each CLI call spawns its own daemon: an index lives for that call only (issue 11
    # persists collections).
    code, out, _ = await run_cli(
        env, "index", "add", "docs", "red apples", "green pears", "--provider", "mock"
    )
    assert code == 0
    assert json.loads(out) == {
        "name": "docs",
        "added": 2,
        "size": 2,
        "dimensions": json.loads(out)["dimensions"],
    }
    code, out, _ = await run_cli(env, "index", "list")
    assert (code, json.loads(out)) == (0, {"indexes": []})
    code, _, err = await run_cli(env, "index", "query", "nosuch", "x", "--provider", "mock")
    assert code == 3 and err.startswith("error: ")


async def test_call_any_method_with_json_params(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(
        env, "call", "dspex/chat", "-", stdin='{"messages": [{"role": "user", "content": "raw"}]}'
    )
    assert code == 0
    assert json.loads(out)["choices"][0]["message"]["content"] == "raw"
    code, _, err = await run_cli(env, "call", "dspex/chat", "{bad")
    assert code == 2 and "not JSON" in err


async def test_client_typed_analytics_and_index_calls(env: dict[str, str]) -> None:
    async with await DspexClient.spawn(SERVER, env=env) as client:
        perf = await client.performance(samples=[5.0, 5.0, 5.0])
        assert perf.count == 3 and perf.std == 0
        added = await client.index_add(
            name="kb", texts=["red apple", "blue sky", "red car"], provider="mock"
        )
        assert added.size == 3
        found = await client.index_query(name="kb", texts=["red apple"], k=2, provider="mock")
        assert found.results[0][0].id == "0"
        assert (await client.index_list()).indexes[0].name == "kb"
        assert (await client.index_drop(name="kb")).dropped is True
        sim = await client.similarity(texts=["a b", "a b", "c"], provider="mock")
        assert sim.matrix[0][1] == pytest.approx(1.0)
        with pytest.raises(InvalidParamsError):
            await client.request("dspex/analytics/performance", {"samples": [1, "x"]})


def test_sync_client_reaches_every_typed_call(env: dict[str, str]) -> None:
    with SyncClient(SERVER, env=env) as client:
        assert client.performance(samples=[1.0, 2.0]).count == 2
        assert client.health().providers is not None


async def test_stats_command_and_client_call(env: dict[str, str]) -> None:
    code, out, _ = await run_cli(env, "stats", "--json")
    assert code == 0
    assert json.loads(out)["totals"]["requestsMade"] == 0
    async with await DspexClient.spawn(SERVER, env=env) as client:
        await client.chat("one", provider="mock")
        await client.chat("two", provider="mock")
        stats = await client.stats()
        assert stats.totals.requests_successful == 2
        assert [p.provider for p in stats.providers] == ["mock"]


async def test_serve_runs_the_daemon_on_stdio(env: dict[str, str]) -> None:
    import asyncio

    from cli_runner import DSPEX
    from rawdaemon import chat, frame, initialize

    process = await asyncio.create_subprocess_exec(
        DSPEX,
        "serve",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(
        process.communicate(frame(initialize()) + frame(chat(2, "served"))), 60
    )
    assert process.returncode == 0
    assert b'"content":"served"' in out.replace(b" ", b"")


async def test_client_compare_models_and_recommend(env: dict[str, str]) -> None:
    async with await DspexClient.spawn(SERVER, env=env) as client:
        samples = {
            "a": {"latencies": [10.0 + i % 3 for i in range(30)]},
            "b": {"latencies": [50.0 + i % 5 for i in range(30)]},
        }
        compared = await client.compare(samples=samples)
        assert compared.to_wire()
        models = await client.models(provider="openai")
        assert {m.provider for m in models.models} == {"openai"}
        picks = await client.recommend(features=["tools"], limit=3)
        assert 0 < len(picks.recommendations) <= 3
        assert all("tools" in r.model.capabilities for r in picks.recommendations)
