"""Gemini thinking through the daemon against the fake: reasoning mapped to thinkingConfig,
thought summaries as reasoning parts, thought signatures carried on the answer and sent
back in the next turn (plain and streamed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from daemon import Daemon
from fakes.base import Reply, Thinking
from fakes.gemini_server import FakeGemini
from gemini_support import G3, P, ask, d, fake, fresh_fake, sent
from provider_checks import WEATHER_TOOL, chat, chat_error, stream_chat

ASK = {"role": "user", "content": "Weather in Paris?"}
pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here


@pytest.mark.parametrize(
    ("reasoning", "config"),
    [
        ({}, {"thinkingBudget": -1, "includeThoughts": True}),
        ({"budgetTokens": 2048}, {"thinkingBudget": 2048, "includeThoughts": True}),
        ({"effort": "low"}, {"thinkingBudget": 1024, "includeThoughts": True}),
        ({"effort": "high"}, {"thinkingBudget": 24576, "includeThoughts": True}),
        ({"budgetTokens": 0}, {"thinkingBudget": 0}),
    ],
)
async def test_reasoning_is_a_thinking_budget_on_gemini_2_5(
    d: Daemon, fake: FakeGemini, reasoning: dict[str, Any], config: dict[str, Any]
) -> None:
    await chat(d, P, model="gemini-2.5-flash", reasoning=reasoning)
    assert sent(fake)["generationConfig"]["thinkingConfig"] == config


@pytest.mark.parametrize(
    ("reasoning", "config"),
    [
        ({"effort": "low"}, {"thinkingLevel": "low", "includeThoughts": True}),
        (
            {"effort": "high", "budgetTokens": 99},
            {"thinkingLevel": "high", "includeThoughts": True},
        ),
        ({"budgetTokens": 4096}, {"thinkingBudget": 4096, "includeThoughts": True}),
        ({}, {"includeThoughts": True}),
    ],
)
async def test_reasoning_effort_is_a_thinking_level_on_gemini_3(
    d: Daemon, fake: FakeGemini, reasoning: dict[str, Any], config: dict[str, Any]
) -> None:
    await chat(d, P, model=G3, reasoning=reasoning)
    assert sent(fake)["generationConfig"]["thinkingConfig"] == config


async def test_an_alias_of_unknown_generation_gets_settings_every_generation_takes(
    d: Daemon, fake: FakeGemini
) -> None:
    # gemini-flash-latest may be a 2.5 or a 3 model: a budget works on both, a level not.
    await chat(d, P, model="gemini-flash-latest", reasoning={"effort": "low"})
    assert sent(fake)["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 1024,
        "includeThoughts": True,
    }
    await chat(d, P, model="gemini-flash-latest", serverTools=[{"name": "web_search"}])
    assert "toolConfig" not in sent(fake)


async def test_reasoning_on_a_model_that_cannot_think_is_refused_before_sending(
    d: Daemon, fake: FakeGemini
) -> None:
    data = await chat_error(d, P, model="gemini-2.0-flash", reasoning={"effort": "low"})
    assert data["kind"] == "invalid_messages"
    assert "cannot reason" in data["message"]
    assert fake.requests == []


async def test_budget_zero_on_a_model_that_always_thinks_is_the_apis_error(
    d: Daemon, fake: FakeGemini
) -> None:
    data = await chat_error(d, P, model="gemini-2.5-pro", reasoning={"budgetTokens": 0})
    assert (data["kind"], data["status"]) == ("invalid_messages", 400)
    assert "only works in thinking mode" in data["message"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_thought_summary_is_a_reasoning_part_signed_by_the_next_parts_signature(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    fake.queue(
        Reply(blocks=[Thinking("Rayleigh scattering, shorter wavelengths.", "sig-t1"), "Blue."])
    )
    result = await ask(d, streamed, reasoning={})
    message = result["choices"][0]["message"]
    assert message["content"] == "Blue."
    assert message["reasoning"] == "Rayleigh scattering, shorter wavelengths."
    assert message["parts"] == [
        {
            "type": "reasoning",
            "text": "Rayleigh scattering, shorter wavelengths.",
            "summary": True,
            "signature": "sig-t1",
            "provider": P,
        },
        {"type": "text", "text": "Blue."},
    ]
    assert result["usage"]["reasoningTokens"] == 5


async def test_streamed_thoughts_arrive_as_reasoning_deltas_before_the_text(
    d: Daemon, fake: FakeGemini
) -> None:
    fake.queue(Reply(blocks=[Thinking("First this, then that.", "sig-t2"), "Done here."]))
    _, partials = await stream_chat(d, P, reasoning={})
    kinds = [k for p in partials for k in ("reasoning", "content") if p["delta"].get(k)]
    assert set(kinds) == {"reasoning", "content"}
    assert kinds == sorted(kinds, key=["reasoning", "content"].index)  # thoughts first
    assert "".join(p["delta"].get("reasoning") or "" for p in partials) == "First this, then that."
    signed = [part for p in partials for part in p["delta"].get("parts") or ()]
    assert signed == [{"type": "reasoning", "summary": True, "signature": "sig-t2"}]


@pytest.mark.parametrize("streamed", [False, True])
async def test_thinking_tool_call_and_its_signature_go_back_in_the_next_turn(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    call = {
        "id": "unused",
        "gemini_id": "fc-1",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
        "signature": "sig-call-1",
    }
    fake.queue(Reply(blocks=[Thinking("I need the weather tool.")], tool_calls=[call]))
    first = await ask(d, streamed, model=G3, messages=[ASK], tools=[WEATHER_TOOL], reasoning={})
    answer = first["choices"][0]["message"]
    [tool_call] = answer["toolCalls"]
    assert tool_call == {
        "id": "fc-1",
        "name": "get_weather",
        "arguments": {"city": "Paris"},
        "signature": "sig-call-1",
    }
    assert answer["parts"] == [
        {"type": "reasoning", "text": "I need the weather tool.", "summary": True, "provider": P}
    ]
    assert first["choices"][0]["finishReason"] == "tool_calls"

    fake.queue(Reply(text="Sunny, 24°C."))
    history = [ASK, answer, {"role": "tool", "toolCallId": "fc-1", "content": '{"temp": 24}'}]
    second = await ask(d, streamed, model=G3, messages=history, tools=[WEATHER_TOOL], reasoning={})
    assert second["choices"][0]["message"]["content"] == "Sunny, 24°C."
    assert sent(fake)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "name": "get_weather",
                        "args": {"city": "Paris"},
                        "id": "fc-1",
                    },
                    "thoughtSignature": "sig-call-1",
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"temp": 24},
                        "id": "fc-1",
                    }
                }
            ],
        },
    ]


async def test_the_signature_sent_back_is_the_one_on_the_message(
    d: Daemon, fake: FakeGemini
) -> None:
    # Not the daemon's memory of call fc-2: the history as the client holds it.
    fake.queue(Reply(tool_calls=[{**_call("fc-2"), "signature": "sig-from-gemini"}]))
    first = await chat(d, P, model=G3, messages=[ASK], tools=[WEATHER_TOOL])
    answer = first["choices"][0]["message"]
    answer["toolCalls"][0]["signature"] = "sig-kept-by-client"
    history = [ASK, answer, {"role": "tool", "toolCallId": "fc-2", "content": "sunny"}]
    await chat(d, P, model=G3, messages=history, tools=[WEATHER_TOOL])
    model_turn = sent(fake)["contents"][1]["parts"][0]
    assert model_turn["thoughtSignature"] == "sig-kept-by-client"


async def test_a_history_without_signatures_falls_back_to_the_daemons_memory(
    d: Daemon, fake: FakeGemini
) -> None:
    fake.queue(Reply(tool_calls=[{**_call("fc-3"), "signature": "sig-remembered"}]))
    first = await chat(d, P, model=G3, messages=[ASK], tools=[WEATHER_TOOL])
    answer = first["choices"][0]["message"]
    del answer["toolCalls"][0]["signature"]  # a client that keeps only id, name, arguments
    history = [ASK, answer, {"role": "tool", "toolCallId": "fc-3", "content": "sunny"}]
    await chat(d, P, model=G3, messages=history, tools=[WEATHER_TOOL])
    assert sent(fake)["contents"][1]["parts"][0]["thoughtSignature"] == "sig-remembered"


async def test_the_fake_refuses_gemini_3_call_history_without_a_signature(
    fake: FakeGemini,
) -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "get_weather", "response": {}}}],
            },
        ]
    }
    async with httpx.AsyncClient(base_url=fake.base_url) as client:
        answer = await client.post(
            f"/v1beta/models/{G3}:generateContent",
            json=body,
            headers={"x-goog-api-key": fake.api_key or ""},
        )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith("Function call is missing a thought_signature")


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_bare_signature_on_the_last_part_is_kept_and_sent_back_there(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    # Gemini 3 signs an answer without calls on its last part, often an empty text.
    fake.queue(Reply(blocks=["Paris.", Thinking("", "sig-last")]))
    first = await ask(d, streamed, model=G3)
    answer = first["choices"][0]["message"]
    assert answer["content"] == "Paris."
    assert answer["parts"] == [
        {"type": "text", "text": "Paris."},
        {"type": "reasoning", "summary": False, "signature": "sig-last", "provider": P},
    ]
    await chat(d, P, model=G3, messages=[ASK, answer, {"role": "user", "content": "And Rome?"}])
    assert sent(fake)["contents"][1] == {
        "role": "model",
        "parts": [{"text": "Paris."}, {"text": "", "thoughtSignature": "sig-last"}],
    }


async def test_another_providers_reasoning_is_not_sent_to_gemini(
    d: Daemon, fake: FakeGemini
) -> None:
    signed = {"type": "reasoning", "text": "hmm", "signature": "anth-sig", "provider": "anthropic"}
    history = [
        ASK,
        {"role": "assistant", "parts": [signed, {"type": "text", "text": "Sunny."}]},
        {"role": "user", "content": "Tomorrow?"},
    ]
    await chat(d, P, messages=history)
    assert sent(fake)["contents"][1] == {"role": "model", "parts": [{"text": "Sunny."}]}


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_safety_stop_keeps_the_thoughts_and_text_that_came_before_it(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    fake.queue(Reply(blocks=[Thinking("Considering."), "Partial answer"], finish_reason="SAFETY"))
    result = await ask(d, streamed, reasoning={})
    choice = result["choices"][0]
    assert choice["finishReason"] == "content_filter"
    assert choice["message"]["content"] == "Partial answer"
    assert choice["message"]["reasoning"] == "Considering."


def _call(gemini_id: str) -> dict[str, Any]:
    return {
        "id": "x",
        "gemini_id": gemini_id,
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
