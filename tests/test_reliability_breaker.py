"""The circuit breaker end to end: closed → open → half-open → closed, visible in
`dspex/providers` and `dspex/stats`; `circuit_open` errors while open."""

from __future__ import annotations

import asyncio

from fakes.base import ConnectionReset
from fakes.openai_server import FakeOpenAI
from raw_daemon import RawDaemon, raw_daemon
from reliability_support import chat_params, error_data, openai_env, options


async def circuit(d: RawDaemon, provider: str) -> dict[str, object]:
    providers = (await d.result("dspex/providers"))["providers"]
    info: dict[str, object] = next(p for p in providers if p["name"] == provider)["circuit"]
    return info


async def provider_stats(d: RawDaemon, provider: str) -> dict[str, object]:
    stats = await d.result("dspex/stats", {"provider": provider})
    entry: dict[str, object] = stats["providers"][0]
    return entry


async def test_breaker_transitions_with_the_mock(env: dict[str, str]) -> None:
    opts = options(
        retry={"attempts": 1},
        circuit={"failureThreshold": 3, "cooldownMs": 400, "successThreshold": 2},
        providers={"mock": {"errors": [{"kind": "api_error", "status": 503, "times": 3}]}},
    )
    async with raw_daemon(env, opts) as d:
        for _ in range(3):
            assert error_data(await d.request("dspex/chat", chat_params()))["kind"] == "api_error"
        assert (await circuit(d, "mock"))["state"] == "open"
        answer = await d.request("dspex/chat", chat_params())
        assert answer["error"]["code"] == -32005
        data = error_data(answer)
        assert data["kind"] == "circuit_open" and data["retryAfterMs"] <= 400
        stats = await provider_stats(d, "mock")
        assert stats["state"] == "circuit_open"
        assert stats["circuitFailures"] == 3
        assert stats["requestsFailed"] == 4
        assert stats["errorsByKind"] == {"api_error": 3, "circuit_open": 1}
        assert stats["circuit"]["rejected"] == 1  # type: ignore[index]

        await asyncio.sleep(0.45)
        assert (await circuit(d, "mock"))["state"] == "half_open"
        assert "result" in await d.request("dspex/chat", chat_params())
        assert (await circuit(d, "mock"))["state"] == "half_open"
        assert "result" in await d.request("dspex/chat", chat_params())
        info = await circuit(d, "mock")
        assert info["state"] == "closed" and info["timesOpened"] == 1
        assert (await provider_stats(d, "mock"))["state"] == "idle"


async def test_failed_probe_reopens(env: dict[str, str]) -> None:
    opts = options(
        retry={"attempts": 1},
        circuit={"failureThreshold": 2, "cooldownMs": 200},
        providers={"mock": {"errors": [{"kind": "timeout", "times": 3}]}},
    )
    async with raw_daemon(env, opts) as d:
        for _ in range(2):
            await d.request("dspex/chat", chat_params())
        await asyncio.sleep(0.25)
        assert error_data(await d.request("dspex/chat", chat_params()))["kind"] == "timeout"
        info = await circuit(d, "mock")
        assert info["state"] == "open" and info["timesOpened"] == 2


async def test_breaker_opening_mid_retries_stops_them(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = options(retry={"attempts": 5}, circuit={"failureThreshold": 2, "cooldownMs": 60_000})
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(*(ConnectionReset() for _ in range(5)))
        data = error_data(await d.request("dspex/chat", chat_params(provider="openai")))
        assert data["kind"] == "circuit_open"
        assert len(fake_openai.requests) == 2
        assert (await circuit(d, "openai"))["state"] == "open"


async def test_breaker_can_be_disabled_per_provider(env: dict[str, str]) -> None:
    opts = options(
        retry={"attempts": 1},
        circuit={"failureThreshold": 1},
        providers={
            "mock": {"circuit": {"enabled": False}, "errors": [{"kind": "api_error", "times": 3}]}
        },
    )
    async with raw_daemon(env, opts) as d:
        for _ in range(3):
            assert error_data(await d.request("dspex/chat", chat_params()))["kind"] == "api_error"
        assert "result" in await d.request("dspex/chat", chat_params())
        assert (await circuit(d, "mock"))["state"] == "closed"
