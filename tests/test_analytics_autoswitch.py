"""Through the daemon: an injected latency shift raises an anomaly and, with autoSwitch on,
reroutes a chat; the opt-in semantic cache answers similar prompts."""

from __future__ import annotations

from typing import Any

from daemon import Daemon, start_daemon
from fakes.openai_server import FakeOpenAI
from lsprotocol import types


def chat(content: str, provider: str | None = "mock") -> dict[str, Any]:
    params: dict[str, Any] = {"messages": [{"role": "user", "content": content}]}
    if provider:
        params["provider"] = provider
    return params


async def shift_mock_latency(d: Daemon, latency_ms: float, auto_switch: bool = False) -> None:
    settings = {
        "providers": {"mock": {"latencyMs": latency_ms}},
        "analytics": {"minSamples": 10, "autoSwitch": auto_switch},
    }
    d.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"dspex": settings})
    )
    config = await d.request("dspex/config", {})
    assert config["config"]["providers"]["mock"]["latencyMs"] == latency_ms


async def test_latency_shift_raises_an_anomaly_and_auto_switch_reroutes(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    # Auto-switch is turned on with the shift, so that a stall of a loaded test machine
    # during the baseline cannot send baseline requests elsewhere.
    options = {"analytics": {"minSamples": 10}, "providers": {"mock": {"latencyMs": 30}}}
    async with start_daemon(env, initialization_options=options) as d:
        for i in range(22):
            r = await d.request("dspex/chat", chat(f"baseline {i}"))
            assert r["provider"] == "mock"
        (before,) = (await d.request("dspex/analytics/health", {"provider": "mock"}))["providers"]
        assert before["status"] != "unhealthy" and before["baselineSamples"] == 12

        await shift_mock_latency(d, 300, auto_switch=True)
        # A loaded machine scatters the baseline: a few slow requests may be needed
        # before the drift clears z > 3. None is rerouted before the anomaly.
        for i in range(4):
            shifted = await d.request("dspex/chat", chat(f"slow now {i}"))
            assert shifted["provider"] == "mock" and shifted["latencyMs"] >= 300
            health = await d.request("dspex/analytics/health", {})
            mock = next(p for p in health["providers"] if p["provider"] == "mock")
            if mock["status"] == "unhealthy":
                break
        assert health["autoSwitch"] is True and health["anomalyThreshold"] == 0.4
        assert mock["status"] == "unhealthy" and mock["active"] == ["latency_drift"]
        anomaly = mock["anomalies"][-1]
        assert anomaly["cause"] == "latency_drift" and anomaly["value"] > 0.4
        assert "latency drift" in anomaly["message"] and anomaly["at"] > 1.7e9
        assert mock["drift"] > 0.4 and mock["zScore"] > 3

        rerouted = await d.request("dspex/chat", chat("where does this go?"))
        assert rerouted["provider"] == "openai" and rerouted["model"].startswith("gpt-4o-mini")
        assert any("auto-switch" in n and "'mock' is unhealthy" in n for n in rerouted["notices"])
        assert len(fake_openai.requests) == 1


async def test_without_auto_switch_the_anomaly_is_reported_but_not_acted_on(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    options = {"analytics": {"minSamples": 10}, "providers": {"mock": {"latencyMs": 30}}}
    async with start_daemon(env, initialization_options=options) as d:
        for i in range(21):
            await d.request("dspex/chat", chat(f"baseline {i}"))
        await shift_mock_latency(d, 300)
        for i in range(4):
            await d.request("dspex/chat", chat(f"slow {i}"))
        (mock,) = (await d.request("dspex/analytics/health", {"provider": "mock"}))["providers"]
        assert mock["status"] == "unhealthy"
        r = await d.request("dspex/chat", chat("stays"))
        assert r["provider"] == "mock" and "notices" not in r


async def test_semantic_cache_answers_a_similar_prompt_and_says_so(env: dict[str, str]) -> None:
    # The cache embeds with dspex/embed's default, the local wordllama model, which is
    # case-sensitive: 0.78 for the two France prompts below, about 0.03 for the penguins.
    options = {"analytics": {"semanticCache": {"enabled": True, "threshold": 0.75}}}
    async with start_daemon(env, initialization_options=options) as d:
        first = await d.request("dspex/chat", chat("What is the capital of France?"))
        assert first["choices"][0]["message"]["content"] == "What is the capital of France?"
        assert "notices" not in first
        # Same words, other case and punctuation: the mock would echo it differently.
        second = await d.request("dspex/chat", chat("what is the capital of france"))
        assert second["choices"][0]["message"]["content"] == "What is the capital of France?"
        assert any("semantic cache" in n for n in second["notices"])
        assert second["usage"]["totalTokens"] == 0
        assert second["correlationId"] != first["correlationId"]
        other = await d.request("dspex/chat", chat("Tell me a joke about penguins"))
        assert other["choices"][0]["message"]["content"] == "Tell me a joke about penguins"
        assert "notices" not in other
        # Other options are another scope: no hit.
        hotter = await d.request(
            "dspex/chat", {**chat("what is the capital of france"), "temperature": 1.5}
        )
        assert hotter["choices"][0]["message"]["content"] == "what is the capital of france"


async def test_semantic_cache_is_off_by_default(daemon: Daemon) -> None:
    await daemon.request("dspex/chat", chat("What is the capital of France?"))
    again = await daemon.request("dspex/chat", chat("what is the capital of france"))
    assert again["choices"][0]["message"]["content"] == "what is the capital of france"
    assert "notices" not in again
