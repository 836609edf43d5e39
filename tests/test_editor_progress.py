"""Work-done progress for long work (`$/progress` begin / report with percentages / end):
a batch predict, an index add of a large set, a compare over the logged history; on the
request's `workDoneToken` or a token the daemon creates; cancellable from the editor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from daemon import Daemon, start_daemon
from lsprotocol import types
from pygls.exceptions import JsonRpcException

SIGNATURE = "text -> sentiment"
WORK_DONE = types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True))


def mock(**settings: Any) -> dict[str, Any]:
    return {"defaultProvider": "mock", "providers": {"mock": {"mode": "echo", **settings}}}


def reports(d: Daemon, token: str) -> list[Any]:
    """Begin, reports and end seen on `token` (pytest-lsp keeps them per token)."""
    return list(d.client.progress_reports.get(token, []))


def watch(d: Daemon, token: str) -> None:
    """A token the client made up for its request (pytest-lsp warns about unknown ones)."""
    d.client.progress_reports.setdefault(token, [])


def assert_complete(seen: list[Any], title: str) -> list[int]:
    """begin first, end last, reports between with percentages that only go up; returns
    the percentages."""
    assert isinstance(seen[0], types.WorkDoneProgressBegin), seen
    assert seen[0].title == title and seen[0].cancellable is True
    assert isinstance(seen[-1], types.WorkDoneProgressEnd)
    middle = seen[1:-1]
    assert all(isinstance(r, types.WorkDoneProgressReport) for r in middle)
    percentages = [r.percentage for r in middle]
    assert percentages == sorted(set(percentages)), percentages
    return percentages


async def until(check: Any, wait_s: float = 10.0) -> None:
    for _ in range(int(wait_s / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never happened")


async def test_a_batch_answers_every_item_in_input_order(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        inputs = [{"text": f"item {i}"} for i in range(12)]
        params = {"signature": SIGNATURE, "inputs": inputs, "concurrency": 4}
        result = await d.request("dspex/predict/batch", params)
        assert [item["index"] for item in result["items"]] == list(range(12))
        assert all("sentiment" in item["result"]["outputs"] for item in result["items"])
        assert (result["succeeded"], result["failed"], result["cancelled"]) == (12, 0, False)


async def test_a_failed_item_is_answered_in_its_place(env: dict[str, str]) -> None:
    options = mock(errors=[{"kind": "api_error", "status": 400, "times": 1}])
    options["retry"] = {"attempts": 1}
    async with start_daemon(env, initialization_options=options) as d:
        inputs = [{"text": "a"}, {"text": "b"}]
        params = {"signature": SIGNATURE, "inputs": inputs, "concurrency": 1}
        result = await d.request("dspex/predict/batch", params)
        first, second = result["items"]
        assert first["error"]["kind"] == "api_error" and "result" not in first
        assert "sentiment" in second["result"]["outputs"]
        assert (result["succeeded"], result["failed"]) == (1, 1)


async def test_an_item_whose_inputs_do_not_fit_refuses_the_batch(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        params = {"signature": SIGNATURE, "inputs": [{"text": "a"}, {"txet": "b"}]}
        with pytest.raises(JsonRpcException) as refused:
            await d.request("dspex/predict/batch", params)
        assert refused.value.code == -32602
        assert refused.value.data["errors"][0]["loc"] == ["inputs", 1, "txet"]


async def test_a_batch_reports_progress_on_its_work_done_token(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        watch(d, "batch-1")
        inputs = [{"text": f"item {i}"} for i in range(10)]
        params = {"signature": SIGNATURE, "inputs": inputs, "workDoneToken": "batch-1"}
        await d.request("dspex/predict/batch", params)
        await until(lambda: len(reports(d, "batch-1")) == 12)  # begin, 10 reports, end
        seen = reports(d, "batch-1")
        percentages = assert_complete(seen, "dspex: predict batch")
        assert percentages == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
        assert seen[-2].message == "10/10 items" and seen[-1].message == "done"


async def test_the_daemon_creates_a_token_when_the_client_supports_it(
    env: dict[str, str],
) -> None:
    async with start_daemon(env, initialization_options=mock(), capabilities=WORK_DONE) as d:
        inputs = [{"text": f"item {i}"} for i in range(4)]
        await d.request("dspex/predict/batch", {"signature": SIGNATURE, "inputs": inputs})
        await until(lambda: len(d.client.progress_reports) == 1)
        (token,) = d.client.progress_reports
        assert str(token).startswith("dspex-")
        await until(lambda: isinstance(reports(d, token)[-1], types.WorkDoneProgressEnd))
        assert assert_complete(reports(d, token), "dspex: predict batch")[-1] == 100


async def test_no_progress_without_a_token_or_the_capability(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        inputs = [{"text": f"item {i}"} for i in range(4)]
        await d.request("dspex/predict/batch", {"signature": SIGNATURE, "inputs": inputs})
        await asyncio.sleep(0.2)
        assert d.client.progress_reports == {}


async def test_cancelling_a_batch_answers_the_items_done(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock(latencyMs=100)) as d:
        watch(d, "slow")
        inputs = [{"text": f"item {i}"} for i in range(40)]
        params = {"signature": SIGNATURE, "inputs": inputs, "concurrency": 2}
        pending = asyncio.ensure_future(
            d.request("dspex/predict/batch", {**params, "workDoneToken": "slow"})
        )
        await until(lambda: len(reports(d, "slow")) >= 3)  # begin and two reports
        d.notify("window/workDoneProgress/cancel", {"token": "slow"})
        result = await asyncio.wait_for(pending, 5)
        assert result["cancelled"] is True
        done = [item for item in result["items"] if "result" in item]
        stopped = [item for item in result["items"] if "error" in item]
        assert 2 <= len(done) < 40 and result["succeeded"] == len(done)
        assert {item["error"]["kind"] for item in stopped} == {"cancelled"}
        assert result["failed"] == 0
        await until(lambda: isinstance(reports(d, "slow")[-1], types.WorkDoneProgressEnd))
        assert reports(d, "slow")[-1].message == "cancelled"


async def test_an_index_add_of_many_texts_reports_progress(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        watch(d, "index")
        texts = [f"document number {i} about topic {i % 7}" for i in range(1000)]
        params = {"name": "docs", "texts": texts, "provider": "mock", "workDoneToken": "index"}
        result = await d.request("dspex/index/add", params)
        assert result["size"] == 1000
        await until(lambda: isinstance(reports(d, "index")[-1], types.WorkDoneProgressEnd))
        percentages = assert_complete(reports(d, "index"), "dspex: index docs")
        assert len(percentages) >= 10 and percentages[-1] == 100


async def test_a_cancelled_index_add_adds_nothing(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock(latencyMs=100)) as d:
        watch(d, "index")
        texts = [f"text {i}" for i in range(2000)]
        params = {"name": "docs", "texts": texts, "provider": "mock", "workDoneToken": "index"}
        pending = asyncio.ensure_future(d.request("dspex/index/add", params))
        await until(lambda: len(reports(d, "index")) >= 2)
        d.notify("window/workDoneProgress/cancel", {"token": "index"})
        with pytest.raises(JsonRpcException) as cancelled:
            await asyncio.wait_for(pending, 5)
        assert cancelled.value.code == -32800
        listed = await d.request("dspex/index/list", {})
        assert listed["indexes"] == []
        await until(lambda: isinstance(reports(d, "index")[-1], types.WorkDoneProgressEnd))
        assert reports(d, "index")[-1].message == "cancelled"


async def test_a_compare_over_the_logged_history_reports_progress(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options=mock()) as d:
        for model in ("a", "b"):
            for _ in range(5):
                chat = {"messages": [{"role": "user", "content": "x"}], "model": model}
                await d.request("dspex/chat", chat)
        watch(d, "history")
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        targets = [{"provider": "mock", "model": "a"}, {"provider": "mock", "model": "b"}]
        params = {"since": since, "targets": targets, "workDoneToken": "history"}
        result = await d.request("dspex/analytics/compare", params)
        assert {r["name"] for r in result["rankings"]} == {"mock/a", "mock/b"}
        await until(lambda: isinstance(reports(d, "history")[-1], types.WorkDoneProgressEnd))
        seen = reports(d, "history")
        assert_complete(seen, "dspex: compare the logged history")
        assert [r.message for r in seen[1:-1]] == [
            "1/2 groups read",
            "2/2 groups read",
            "comparing 2 groups",
        ]
