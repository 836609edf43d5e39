"""Opt-in `dspex/telemetry` notifications and the `dspex/stats` counters they feed."""

from __future__ import annotations

from typing import Any

from raw_daemon import RawDaemon, raw_daemon
from reliability_support import chat_params, options


def telemetry(d: RawDaemon) -> list[dict[str, Any]]:
    return [n["params"] for n in d.notifications if n["method"] == "dspex/telemetry"]


async def test_telemetry_is_off_by_default(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        await d.result("dspex/chat", chat_params())
        await d.result("dspex/stats")
        assert telemetry(d) == []


async def test_start_and_stop_events_carry_the_request_facts(env: dict[str, str]) -> None:
    opts = options(
        telemetry=True,
        providers={"mock": {"errors": [{"kind": "api_error", "status": 503, "times": 1}]}},
    )
    async with raw_daemon(env, opts) as d:
        await d.result(
            "dspex/chat",
            chat_params("stream me", correlationId="corr-1", partialResultToken="t", sessionId="s"),
        )
        start, stop = telemetry(d)
        assert start["phase"] == "start" and stop["phase"] == "stop"
        for event in (start, stop):
            assert event["correlationId"] == "corr-1"
            assert event["provider"] == "mock" and event["model"] == "mock-1"
            assert event["operation"] == "chat" and event["streamed"] is True
            assert event["sessionId"] == "s"
        assert stop["success"] is True and stop["durationMs"] > 0
        assert stop["attempts"] == 2  # the injected 503 was retried
        assert stop["chunks"] >= 2
        assert stop["usage"]["totalTokens"] > 0


async def test_failed_request_reports_its_error_kind(env: dict[str, str]) -> None:
    opts = options(
        telemetry=True,
        retry={"attempts": 1},
        providers={"mock": {"errors": [{"kind": "invalid_messages", "times": 1}]}},
    )
    async with raw_daemon(env, opts) as d:
        answer = await d.request("dspex/chat", chat_params(correlationId="bad-1"))
        assert answer["error"]["data"]["correlationId"] == "bad-1"
        stop = telemetry(d)[-1]
        assert stop["success"] is False and stop["errorKind"] == "invalid_messages"


async def test_telemetry_follows_did_change_configuration(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        d.notify("workspace/didChangeConfiguration", {"settings": {"dspex": {"telemetry": True}}})
        await d.result("dspex/chat", chat_params())
        assert [e["phase"] for e in telemetry(d)] == ["start", "stop"]
        d.notify("workspace/didChangeConfiguration", {"settings": {"dspex": {"telemetry": False}}})
        await d.result("dspex/chat", chat_params())
        assert len(telemetry(d)) == 2


async def test_stats_per_provider_model_and_session(env: dict[str, str]) -> None:
    opts = options(retry={"attempts": 1})
    async with raw_daemon(env, opts) as d:
        for i in range(5):
            await d.result("dspex/chat", chat_params(f"m{i}", sessionId="a"))
        await d.result("dspex/chat", chat_params("other", model="mock-2", sessionId="b"))
        stats = await d.result("dspex/stats")
        assert stats["totals"]["requestsMade"] == 6
        assert stats["totals"]["requestsSuccessful"] == 6
        assert stats["totals"]["state"] == "idle"
        (mock,) = stats["providers"]
        assert mock["provider"] == "mock" and mock["requestsMade"] == 6
        assert mock["lastRequestAt"].endswith("Z")
        latency = mock["latencyMs"]
        assert latency["count"] == 6 and latency["window"] == 100
        assert latency["min"] <= latency["p50"] <= latency["p95"] <= latency["max"]
        models = {m["model"]: m["requestsMade"] for m in stats["models"]}
        assert models == {"mock-1": 5, "mock-2": 1}
        sessions = {s["sessionId"]: s["requestsMade"] for s in stats["sessions"]}
        assert sessions == {"a": 5, "b": 1}
        only_b = await d.result("dspex/stats", {"sessionId": "b"})
        assert [s["sessionId"] for s in only_b["sessions"]] == ["b"]


async def test_stats_params_are_validated(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        answer = await d.request("dspex/stats", {"provider": 5})
        assert answer["error"]["code"] == -32602
