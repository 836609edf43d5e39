"""The answer as parts, reasoning on request, and options mapped or refused (never
dropped), through the daemon: the mock provider and the OpenAI fake."""

from __future__ import annotations

import pytest
from daemon import Daemon
from fakes.openai_server import FakeOpenAI
from pygls.exceptions import JsonRpcException

USER = [{"role": "user", "content": "Why is the sky blue?"}]


async def test_reasoning_on_the_mock_is_a_reasoning_part_before_the_text(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/chat", {"messages": USER, "reasoning": {"effort": "high", "budgetTokens": 512}}
    )
    message = result["choices"][0]["message"]
    assert message["content"] == "Why is the sky blue?"
    assert "effort=high" in message["reasoning"]
    assert [p["type"] for p in message["parts"]] == ["reasoning", "text"]
    assert message["parts"][0]["provider"] == "mock"
    assert message["parts"][0]["text"] == message["reasoning"]
    assert result["usage"]["reasoningTokens"] > 0
    assert result["usage"]["completionTokens"] > result["usage"]["reasoningTokens"]


async def test_a_plain_answer_has_no_parts(daemon: Daemon) -> None:
    result = await daemon.request("dspex/chat", {"messages": USER})
    assert result["choices"][0]["message"] == {"role": "assistant", "content": USER[0]["content"]}


async def test_reasoning_streams_as_its_own_delta_field(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/chat", {"messages": USER, "reasoning": {}, "partialResultToken": "r"}
    )
    chunks = daemon.partials["r"]
    # Reasoning first (a delta that also carries content applies reasoning before it).
    assert "reasoning" in chunks[0]["delta"]
    streamed = "".join(c["delta"].get("reasoning", "") for c in chunks)
    assert streamed == result["choices"][0]["message"]["reasoning"]
    assert "".join(c["delta"].get("content", "") for c in chunks) == USER[0]["content"]


async def test_an_answer_sent_back_with_its_parts_is_accepted(daemon: Daemon) -> None:
    first = await daemon.request("dspex/chat", {"messages": USER, "reasoning": {}})
    answer = first["choices"][0]["message"]
    history = [*USER, answer, {"role": "user", "content": "And at sunset?"}]
    second = await daemon.request("dspex/chat", {"messages": history, "reasoning": {}})
    assert second["choices"][0]["message"]["content"] == "And at sunset?"


async def test_an_option_the_provider_lacks_is_refused_not_dropped(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as info:
        await daemon.request("dspex/chat", {"messages": USER, "n": 2, "logprobs": True})
    data = info.value.data
    assert data["kind"] == "invalid_messages"
    assert "n, logprobs" in data["message"]
    assert data["details"]["unsupported"] == ["n", "logprobs"]


async def test_neutral_option_values_are_not_refused(daemon: Daemon) -> None:
    result = await daemon.request("dspex/chat", {"messages": USER, "n": 1, "logprobs": False})
    assert result["choices"][0]["message"]["content"] == USER[0]["content"]


async def test_reasoning_parts_are_refused_in_a_user_message(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as info:
        await daemon.request(
            "dspex/chat",
            {"messages": [{"role": "user", "content": [{"type": "reasoning", "text": "x"}]}]},
        )
    assert info.value.code == -32602


async def test_reasoning_on_a_model_the_catalog_says_cannot_reason_is_refused(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    with pytest.raises(JsonRpcException) as info:
        await openai_daemon.request(
            "dspex/chat", {"messages": USER, "model": "gpt-4o-mini", "reasoning": {}}
        )
    assert info.value.data["kind"] == "invalid_messages"
    assert "cannot reason" in info.value.data["message"]
    assert fake_openai.requests == []


async def test_another_providers_reasoning_is_left_out_of_the_history(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    signed = {"type": "reasoning", "text": "hmm", "signature": "sig", "provider": "anthropic"}
    history = [
        *USER,
        {"role": "assistant", "parts": [signed, {"type": "text", "text": "Rayleigh."}]},
        {"role": "user", "content": "More?"},
    ]
    await openai_daemon.request("dspex/chat", {"messages": history})
    sent = fake_openai.requests[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "Rayleigh."}


async def test_a_document_part_is_refused_where_the_provider_cannot_take_it(
    daemon: Daemon,
) -> None:
    # The mock takes every part; a provider row without documents is checked in the
    # adapters' own tests. Here: a malformed document part is an InvalidParams error.
    with pytest.raises(JsonRpcException) as info:
        await daemon.request(
            "dspex/chat",
            {"messages": [{"role": "user", "content": [{"type": "document", "data": "JVBE"}]}]},
        )
    assert info.value.code == -32602
    assert "mimeType" in str(info.value.data)


async def test_server_tools_the_provider_lacks_are_refused(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as info:
        await daemon.request(
            "dspex/chat", {"messages": USER, "serverTools": [{"name": "web_search"}]}
        )
    assert info.value.data["kind"] == "invalid_messages"
    assert info.value.data["details"]["unsupported"] == ["serverTools"]
