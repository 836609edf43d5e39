"""`dspex/predict` through the daemon against the Anthropic, Gemini and Ollama fakes: every
mode yields a validated result, and the repair loop's accounting holds on each wire format.

The fakes arrive from the providers branches; until they are merged these tests skip.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from daemon import clean_env, start_daemon
from fakes.base import FakeProvider, Reply

SEED = "text -> sentiment, confidence, reasoning"
SEED_INPUT = {"text": "I love programming in Elixir!"}
VALID = {"sentiment": "positive", "confidence": "high", "reasoning": "The writer loves it."}
TEXT_ANSWER = (
    "[[ ## sentiment ## ]]\npositive\n\n[[ ## confidence ## ]]\nhigh\n\n"
    "[[ ## reasoning ## ]]\nThe writer loves it.\n\n[[ ## completed ## ]]"
)


def _fake_class(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(f"fakes.{module}"), name)
    except (ImportError, AttributeError):
        return None


FakeAnthropic = _fake_class("anthropic_server", "FakeAnthropic")
FakeGemini = _fake_class("gemini_server", "FakeGemini")
FakeOllama = _fake_class("ollama_server", "FakeOllama")


def anthropic_env(fake: FakeProvider) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": fake.api_key or "", "ANTHROPIC_BASE_URL": fake.base_url}


def gemini_env(fake: FakeProvider) -> dict[str, str]:
    return {"GEMINI_API_KEY": fake.api_key or "", "GEMINI_BASE_URL": fake.base_url}


def ollama_env(fake: FakeProvider) -> dict[str, str]:
    return {"OLLAMA_HOST": fake.base_url}


def tool_answer(outputs: dict[str, Any]) -> Reply:
    return Reply(tool_calls=[{"id": "toolu_1", "name": "dspex_output", "arguments": outputs}])


def text_answer(outputs: dict[str, Any]) -> Reply:
    return Reply(text=json.dumps(outputs))


# provider, fake class, env for it, structured strategy, how a structured answer comes back
CASES = [
    pytest.param(
        "anthropic",
        FakeAnthropic,
        anthropic_env,
        "tool",
        tool_answer,
        marks=pytest.mark.skipif(FakeAnthropic is None, reason="no Anthropic fake yet"),
        id="anthropic",
    ),
    pytest.param(
        "gemini",
        FakeGemini,
        gemini_env,
        "json_schema",
        text_answer,
        marks=pytest.mark.skipif(FakeGemini is None, reason="no Gemini fake yet"),
        id="gemini",
    ),
    pytest.param(
        "ollama",
        FakeOllama,
        ollama_env,
        "json_schema",
        text_answer,
        marks=pytest.mark.skipif(FakeOllama is None, reason="no Ollama fake yet"),
        id="ollama",
    ),
]

Answer = Callable[[dict[str, Any]], Reply]
EnvFor = Callable[[FakeProvider], dict[str, str]]


def body_of(fake: FakeProvider) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


def check_structured_request(provider: str, body: dict[str, Any]) -> None:
    """The native structured-output switch of each wire format was used."""
    if provider == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "dspex_output"}
        schema = body["tools"][0]["input_schema"]
    elif provider == "gemini":
        schema = body["generationConfig"]["responseJsonSchema"]
    else:
        schema = body["format"]
    assert schema["properties"]["confidence"]["enum"] == ["low", "medium", "high"]
    assert set(schema["required"]) == {"sentiment", "confidence", "reasoning"}


@pytest.mark.parametrize(("provider", "fake_cls", "env_for", "strategy", "answer"), CASES)
async def test_every_mode_yields_a_validated_result(
    tmp_path: Any, provider: str, fake_cls: Any, env_for: EnvFor, strategy: str, answer: Answer
) -> None:
    async with fake_cls() as fake:
        env = {**clean_env(tmp_path), **env_for(fake)}
        async with start_daemon(env) as d:
            params = {"signature": SEED, "inputs": SEED_INPUT, "provider": provider}

            fake.queue(answer(VALID))
            structured = await d.request("dspex/predict", params)
            assert structured["outputs"] == VALID
            assert structured["strategy"] == strategy
            check_structured_request(provider, body_of(fake))

            fake.queue(Reply(text="```json\n" + json.dumps(VALID) + "\n```"))
            as_json = await d.request("dspex/predict", {**params, "mode": "json"})
            assert as_json["outputs"] == VALID
            assert as_json["mode"] == "json"

            fake.queue(Reply(text=TEXT_ANSWER))
            as_text = await d.request("dspex/predict", {**params, "mode": "text"})
            assert as_text["outputs"] == VALID
            assert as_text["strategy"] == "text"
            assert all(r["attempts"] == 1 for r in (structured, as_json, as_text))


@pytest.mark.parametrize(("provider", "fake_cls", "env_for", "strategy", "answer"), CASES)
async def test_repair_loop_broken_then_missing_then_valid(
    tmp_path: Any, provider: str, fake_cls: Any, env_for: EnvFor, strategy: str, answer: Answer
) -> None:
    async with fake_cls() as fake:
        env = {**clean_env(tmp_path), **env_for(fake)}
        async with start_daemon(env) as d:
            broken = Reply(text="I would say it is positive!", completion_tokens=5)
            missing = answer({"sentiment": "positive"})
            missing.completion_tokens = 6
            valid = answer(VALID)
            valid.completion_tokens = 20
            # What each reply is worth on this wire format, measured by plain chats.
            expected = {"promptTokens": 0, "completionTokens": 0, "totalTokens": 0}
            for reply in (broken, missing, valid):
                fake.queue(reply)
                chat = await d.request(
                    "dspex/chat",
                    {"messages": [{"role": "user", "content": "hi"}], "provider": provider},
                )
                for key in expected:
                    expected[key] += chat["usage"][key]
            before = len(fake.requests)
            fake.queue(broken, missing, valid)
            result = await d.request(
                "dspex/predict",
                {"signature": SEED, "inputs": SEED_INPUT, "provider": provider, "maxRetries": 2},
            )
    assert result["outputs"] == VALID
    assert result["attempts"] == 3
    assert {k: result["usage"][k] for k in expected} == expected
    assert expected["completionTokens"] >= 31
    assert len(fake.requests) - before == 3
