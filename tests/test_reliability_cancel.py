"""`$/cancelRequest` on a chat cancels the handler, closes the provider's HTTP connection at
once (the fake sees it close and writes no more), answers -32800 and counts as cancelled."""

from __future__ import annotations

import asyncio

from fakes.base import Reply, SlowStream
from fakes.openai_server import FakeOpenAI
from raw_daemon import RawDaemon, raw_daemon
from reliability_support import chat_params, eventually, openai_env, options

REQUEST_CANCELLED = -32800


def progress_count(d: RawDaemon, token: str) -> int:
    return sum(
        1 for n in d.notifications if n["method"] == "$/progress" and n["params"]["token"] == token
    )


async def test_cancel_closes_the_provider_stream(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = options(providers={"openai": {"timeoutMs": 10_000}}, telemetry=True)
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(SlowStream(chunks=200, interval_s=0.02))
        msg_id = d.send_request(
            "dspex/chat", chat_params(provider="openai", partialResultToken="c")
        )
        await eventually(lambda: progress_count(d, "c") >= 3)
        d.cancel(msg_id)
        answer = await d.answer(msg_id, wait_s=5)
        assert answer["error"]["code"] == REQUEST_CANCELLED
        await asyncio.wait_for(fake_openai.disconnected.wait(), 2.0)
        sent = fake_openai.chunks_sent
        await asyncio.sleep(0.3)
        assert fake_openai.chunks_sent == sent < 200  # nothing more was written
        seen = progress_count(d, "c")
        await asyncio.sleep(0.1)
        assert progress_count(d, "c") == seen
        stats = await d.result("dspex/stats", {"provider": "openai"})
        entry = stats["providers"][0]
        assert entry["requestsCancelled"] == 1 and entry["requestsFailed"] == 0
        assert entry["inFlight"] == 0
        stop = [
            n["params"]
            for n in d.notifications
            if n["method"] == "dspex/telemetry" and n["params"]["phase"] == "stop"
        ]
        assert stop[-1]["errorKind"] == "cancelled" and stop[-1]["chunks"] >= 3
        assert len(d.answers[msg_id]) == 1


async def test_cancel_of_a_plain_chat_closes_the_connection(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = options(providers={"openai": {"timeoutMs": 10_000}})
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(Reply(text="too late", delay_s=5))
        msg_id = d.send_request("dspex/chat", chat_params(provider="openai"))
        await eventually(lambda: len(fake_openai.requests) == 1)
        d.cancel(msg_id)
        answer = await d.answer(msg_id, wait_s=2)
        assert answer["error"]["code"] == REQUEST_CANCELLED
        await asyncio.wait_for(fake_openai.disconnected.wait(), 2.0)
        stats = await d.result("dspex/stats")
        assert stats["totals"]["requestsCancelled"] == 1


async def test_cancel_during_backoff_stops_retrying(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    from fakes.openai_server import openai_error

    # Full jitter may pick a tiny wait; Retry-After makes the backoff at least 2 s.
    busy = openai_error(503, "busy", "server_error", headers={"Retry-After": "2"})
    async with raw_daemon(openai_env(env, fake_openai), options(retry={"attempts": 5})) as d:
        fake_openai.queue(*(busy for _ in range(5)))
        msg_id = d.send_request("dspex/chat", chat_params(provider="openai"))
        await eventually(lambda: len(fake_openai.requests) == 1)
        await asyncio.sleep(0.05)
        d.cancel(msg_id)
        answer = await d.answer(msg_id, wait_s=2)
        assert answer["error"]["code"] == REQUEST_CANCELLED
        await asyncio.sleep(0.3)
        assert len(fake_openai.requests) == 1


async def test_cancel_of_a_mock_stream(env: dict[str, str]) -> None:
    opts = options(providers={"mock": {"chunkDelayMs": 20, "chunkSize": 1}})
    async with raw_daemon(env, opts) as d:
        params = chat_params("x" * 500, provider="mock", partialResultToken="m", sessionId="s1")
        msg_id = d.send_request("dspex/chat", params)
        await eventually(lambda: progress_count(d, "m") >= 2)
        d.cancel(msg_id)
        assert (await d.answer(msg_id))["error"]["code"] == REQUEST_CANCELLED
        stats = await d.result("dspex/stats", {"sessionId": "s1"})
        assert stats["sessions"][0]["requestsCancelled"] == 1
        assert progress_count(d, "m") < 500
        # The daemon is fine afterwards.
        assert "result" in await d.request("dspex/chat", chat_params(provider="mock"))
