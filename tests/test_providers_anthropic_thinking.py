"""Anthropic extended thinking through the daemon against the fake: how `reasoning` maps
to `thinking`, what is refused with it, thinking and redacted thinking in answers (plain
and streamed), and a tool loop that sends the signed thinking back."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic_support import (
    MODES,
    P,
    ask,
    d,
    fake,
    fresh_fake,
    last_body,
    message_of,
    refused,
    streamed_parts,
    streamed_reasoning,
)
from daemon import Daemon
from fakes.anthropic_server import FakeAnthropic
from fakes.base import Reply, ServerTool, Thinking
from provider_checks import WEATHER_CALL, WEATHER_TOOL, chat, chat_error

__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")

ASK = {"role": "user", "content": "Weather in Paris?"}


async def test_budget_tokens_become_thinking_and_raise_the_default_max_tokens(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await chat(d, P, reasoning={"budgetTokens": 2000})
    body = last_body(fake)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    # The answer keeps the default 4096 tokens of room on top of the thinking budget.
    assert body["max_tokens"] == 6096


@pytest.mark.parametrize(
    ("reasoning", "budget"),
    [
        ({"effort": "low"}, 2048),
        ({"effort": "medium"}, 8192),
        ({"effort": "high"}, 16384),
        ({}, 8192),
    ],
)
async def test_effort_maps_to_a_thinking_budget(
    d: Daemon, fake: FakeAnthropic, reasoning: dict[str, Any], budget: int
) -> None:
    await chat(d, P, reasoning=reasoning)
    body = last_body(fake)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == budget + 4096
    assert "output_config" not in body  # claude-haiku-4-5 takes no effort parameter


async def test_effort_is_sent_as_output_config_effort_to_opus_4_5(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await chat(d, P, model="claude-opus-4-5", reasoning={"effort": "low"})
    body = last_body(fake)
    assert body["output_config"] == {"effort": "low"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_budget_zero_turns_thinking_off(d: Daemon, fake: FakeAnthropic) -> None:
    await chat(d, P, reasoning={"budgetTokens": 0})
    body = last_body(fake)
    assert body["thinking"] == {"type": "disabled"}
    assert body["max_tokens"] == 4096


async def test_the_budget_is_capped_by_the_models_output_limit(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await chat(d, P, model="claude-opus-4-1", reasoning={"budgetTokens": 30000})
    assert last_body(fake)["max_tokens"] == 32000  # claude-opus-4-1's documented limit


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"reasoning": {"budgetTokens": 500}}, "minimum thinking budget is 1024"),
        ({"reasoning": {"budgetTokens": 4000}, "maxTokens": 4000}, "must exceed the thinking"),
        (
            {"reasoning": {}, "tools": [WEATHER_TOOL], "toolChoice": "required"},
            "forced tool use",
        ),
        (
            {"reasoning": {}, "tools": [WEATHER_TOOL], "toolChoice": {"name": "get_weather"}},
            "forced tool use",
        ),
        ({"reasoning": {}, "temperature": 0.2}, "only temperature 1"),
        ({"reasoning": {}, "topP": 0.5}, "between 0.95 and 1"),
        ({"model": "claude-3-5-haiku-20241022", "reasoning": {}}, "cannot reason"),
    ],
    ids=["small-budget", "max-tokens", "required", "named-tool", "temperature", "top-p", "haiku"],
)
async def test_what_thinking_rejects_is_refused_before_sending(
    d: Daemon, fake: FakeAnthropic, params: dict[str, Any], words: str
) -> None:
    assert words in await refused(d, fake, **params)


async def test_temperature_one_and_top_p_095_are_allowed_with_thinking(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await chat(
        d, P, reasoning={}, temperature=1, topP=0.95, tools=[WEATHER_TOOL], toolChoice="auto"
    )
    body = last_body(fake)
    assert (body["temperature"], body["top_p"], body["tool_choice"]) == (1, 0.95, {"type": "auto"})


@MODES
async def test_thinking_is_a_signed_reasoning_part_before_the_text(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(blocks=[Thinking("Light scatters off air."), "Rayleigh scattering."]))
    result, partials = await ask(d, streamed, reasoning={})
    message = message_of(result)
    assert message["content"] == "Rayleigh scattering."
    assert message["reasoning"] == "Light scatters off air."
    reasoning, text = message["parts"]
    assert reasoning["type"] == "reasoning" and reasoning["provider"] == P
    assert reasoning["text"] == "Light scatters off air."
    assert reasoning["signature"] in fake.signatures
    assert text == {"type": "text", "text": "Rayleigh scattering."}
    if streamed:
        assert streamed_reasoning(partials) == "Light scatters off air."
        # The signature_delta closes the streamed thinking block.
        assert streamed_parts(partials) == [
            {"type": "reasoning", "summary": False, "signature": reasoning["signature"]}
        ]


@MODES
async def test_redacted_thinking_is_reasoning_data(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(blocks=[Thinking(redacted="EmwKAhgBEgy3va3pzix/LafPsn4a"), "Done."]))
    result, _ = await ask(d, streamed, reasoning={})
    message = message_of(result)
    assert message["parts"][0] == {
        "type": "reasoning",
        "summary": False,
        "data": "EmwKAhgBEgy3va3pzix/LafPsn4a",
        "provider": P,
    }
    assert message["content"] == "Done."
    assert "reasoning" not in message  # no readable reasoning text


@MODES
async def test_interleaved_thinking_keeps_its_place_between_server_tools(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    search = ServerTool(
        "srvtoolu_01A",
        "web_search",
        {"query": "paris weather"},
        [{"type": "web_search_result", "url": "https://w.example", "title": "W"}],
        "web_search_tool_result",
    )
    fake.queue(
        Reply(
            blocks=[Thinking("Search first."), "Searching.", search, Thinking("Sunny."), "Sunny."]
        )
    )
    result, _ = await ask(d, streamed, reasoning={}, serverTools=[{"name": "web_search"}])
    parts = message_of(result)["parts"]
    assert [p["type"] for p in parts] == ["reasoning", "text", "server_tool", "reasoning", "text"]
    assert [p.get("text") for p in parts if p["type"] == "reasoning"] == ["Search first.", "Sunny."]
    assert all(p["signature"] for p in parts if p["type"] == "reasoning")


def tool_result(content: str = '{"sky": "sunny"}') -> dict[str, Any]:
    return {"role": "tool", "toolCallId": WEATHER_CALL["id"], "content": content}


@MODES
async def test_a_tool_loop_with_thinking_sends_the_signed_thinking_first(
    d: Daemon, fake: FakeAnthropic, streamed: bool
) -> None:
    fake.queue(Reply(blocks=[Thinking("I need the weather tool.")], tool_calls=[WEATHER_CALL]))
    first, _ = await ask(d, streamed, messages=[ASK], tools=[WEATHER_TOOL], reasoning={})
    answer = message_of(first)
    assert answer["toolCalls"] == [WEATHER_CALL]
    assert first["choices"][0]["finishReason"] == "tool_calls"
    assert "interleaved-thinking-2025-05-14" in fake.requests[-1].headers["anthropic-beta"]

    fake.queue(Reply(blocks=[Thinking("It is sunny."), "Sunny in Paris."]))
    second, _ = await ask(
        d, streamed, messages=[ASK, answer, tool_result()], tools=[WEATHER_TOOL], reasoning={}
    )
    assert message_of(second)["content"] == "Sunny in Paris."
    signature = answer["parts"][0]["signature"]
    assert last_body(fake)["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "I need the weather tool.", "signature": signature},
            {
                "type": "tool_use",
                "id": WEATHER_CALL["id"],
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
    }


async def test_the_api_refuses_a_tool_loop_whose_thinking_was_dropped(
    d: Daemon, fake: FakeAnthropic
) -> None:
    # What happens to a client that keeps only `toolCalls`: the fake answers the API's 400.
    history = [ASK, {"role": "assistant", "toolCalls": [WEATHER_CALL]}, tool_result()]
    data = await chat_error(d, P, messages=history, tools=[WEATHER_TOOL], reasoning={})
    assert data["kind"] == "invalid_messages"
    assert data["status"] == 400
    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in data["message"]


async def test_the_api_refuses_a_changed_signature(d: Daemon, fake: FakeAnthropic) -> None:
    forged = {"type": "reasoning", "text": "I need the tool.", "signature": "EqQBforged"}
    answer = {"role": "assistant", "parts": [forged], "toolCalls": [WEATHER_CALL]}
    data = await chat_error(
        d, P, messages=[ASK, answer, tool_result()], tools=[WEATHER_TOOL], reasoning={}
    )
    assert "Invalid `signature` in `thinking` block" in data["message"]


async def test_redacted_thinking_goes_back_as_it_came(d: Daemon, fake: FakeAnthropic) -> None:
    fake.queue(Reply(blocks=[Thinking(redacted="EmwKAhgBopaque")], tool_calls=[WEATHER_CALL]))
    answer = message_of(await chat(d, P, messages=[ASK], tools=[WEATHER_TOOL], reasoning={}))
    await chat(d, P, messages=[ASK, answer, tool_result()], tools=[WEATHER_TOOL], reasoning={})
    sent = last_body(fake)["messages"][1]["content"]
    assert sent[0] == {"type": "redacted_thinking", "data": "EmwKAhgBopaque"}


async def test_thinking_is_kept_out_of_a_final_assistant_turn_without_thinking(
    d: Daemon, fake: FakeAnthropic
) -> None:
    fake.queue(Reply(blocks=[Thinking("Hmm."), "Half an answer"]))
    answer = message_of(await chat(d, P, messages=[ASK], reasoning={}))
    # Continuing the answer as a prefill, thinking off: the API refuses thinking there.
    await chat(d, P, messages=[ASK, answer])
    assert last_body(fake)["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Half an answer"}],
    }
