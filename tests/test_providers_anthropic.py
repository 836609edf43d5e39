"""The Anthropic Messages API adapter, through the real daemon, against a loopback fake."""

from __future__ import annotations

import json

import pytest
from anthropic_support import P, anthropic_env, d, fake, fresh_fake, last_body
from daemon import Daemon, start_daemon
from fakes.anthropic_server import REQUEST_ID, FakeAnthropic, anthropic_error
from fakes.base import HttpError, Reply, StreamErrorEvent
from provider_checks import (
    WEATHER_CALL,
    WEATHER_TOOL,
    chat,
    chat_error,
    check_cut_before_text_is_network_error,
    check_malformed_bodies_are_invalid_responses,
    check_truncated_stream_is_interrupted,
    list_models_of,
    stream_chat,
    streamed_text,
    streamed_tool_fragments,
)
from pygls.exceptions import JsonRpcException

# One fake and one daemon serve the whole module (starting a daemon costs seconds); each
# test starts from an empty script and request log.
__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_plain_chat_sends_messages_api_request_and_parses_answer(
    d: Daemon, fake: FakeAnthropic
) -> None:
    result = await chat(
        d,
        P,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi"},
        ],
        temperature=0.2,
        stop=["END"],
    )
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "Say hi"}
    assert result["choices"][0]["finishReason"] == "stop"
    # input_tokens (11) + cache reads (3) + writes (0) = prompt; reads are cachedTokens.
    assert result["usage"] == {
        "promptTokens": 14,
        "completionTokens": 7,
        "totalTokens": 21,
        "cachedTokens": 3,
        "cacheWriteTokens": 0,
    }
    assert result["provider"] == P
    recorded = fake.requests[-1]
    assert recorded.path == "/v1/messages"
    assert recorded.headers["x-api-key"] == fake.api_key
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in recorded.headers
    assert recorded.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 4096,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
        "temperature": 0.2,
        "stop_sequences": ["END"],
    }


async def test_default_max_tokens_is_configurable(env: dict[str, str], fake: FakeAnthropic) -> None:
    options = {"providers": {"anthropic": {"defaultMaxTokens": 1024}}}
    async with start_daemon(anthropic_env(env, fake), initialization_options=options) as d:
        await chat(d, P)
        assert last_body(fake)["max_tokens"] == 1024
        await chat(d, P, maxTokens=77)
        assert last_body(fake)["max_tokens"] == 77


async def test_streamed_chat_sends_deltas_then_full_result_with_usage(
    d: Daemon, fake: FakeAnthropic
) -> None:
    fake.queue(Reply(text="Hello from a streamed Claude", prompt_tokens=20, completion_tokens=9))
    result, partials = await stream_chat(d, P)
    assert (
        partials
    )  # Deltas that arrive in one read leave as one merged `$/progress` (partials.py).
    assert streamed_text(partials) == "Hello from a streamed Claude"
    assert result["choices"][0]["message"]["content"] == "Hello from a streamed Claude"
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"]["promptTokens"] == 23
    assert result["usage"]["completionTokens"] == 9
    assert result["usage"]["cachedTokens"] == 3
    assert last_body(fake)["stream"] is True


async def test_tool_call_round_trip(d: Daemon, fake: FakeAnthropic) -> None:
    fake.queue(Reply(text="Let me check.", tool_calls=[WEATHER_CALL]))
    ask = {"role": "user", "content": "Weather in Paris?"}
    result = await chat(
        d, P, messages=[ask], tools=[WEATHER_TOOL], toolChoice={"name": "get_weather"}
    )
    message = result["choices"][0]["message"]
    assert result["choices"][0]["finishReason"] == "tool_calls"
    assert message["content"] == "Let me check."
    assert message["toolCalls"] == [WEATHER_CALL]
    sent = last_body(fake)
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER_TOOL["parameters"],
        }
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}

    fake.queue(Reply(text="It is sunny in Paris."))
    result = await chat(
        d,
        P,
        messages=[
            ask,
            message,
            {"role": "tool", "toolCallId": WEATHER_CALL["id"], "content": '{"sky": "sunny"}'},
        ],
        tools=[WEATHER_TOOL],
    )
    assert result["choices"][0]["message"]["content"] == "It is sunny in Paris."
    assert last_body(fake)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": WEATHER_CALL["id"],
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": WEATHER_CALL["id"],
                    "content": [{"type": "text", "text": '{"sky": "sunny"}'}],
                }
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "wire"),
    [("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"})],
)
async def test_tool_choice_mapping(
    d: Daemon, fake: FakeAnthropic, choice: str, wire: dict[str, str]
) -> None:
    await chat(d, P, tools=[WEATHER_TOOL], toolChoice=choice)
    assert last_body(fake)["tool_choice"] == wire


async def test_parallel_tool_results_go_back_in_one_user_turn(
    d: Daemon, fake: FakeAnthropic
) -> None:
    second = {**WEATHER_CALL, "id": "toolu_02Weather", "arguments": {"city": "Rome"}}
    await chat(
        d,
        P,
        messages=[
            {"role": "user", "content": "Paris and Rome?"},
            {"role": "assistant", "toolCalls": [WEATHER_CALL, second]},
            {"role": "tool", "toolCallId": WEATHER_CALL["id"], "content": "sunny"},
            {"role": "tool", "toolCallId": second["id"], "content": "rain"},
        ],
        tools=[WEATHER_TOOL],
    )
    turns = last_body(fake)["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in turns[2]["content"]] == [WEATHER_CALL["id"], second["id"]]


async def test_streamed_tool_call_fragments_are_assembled(d: Daemon, fake: FakeAnthropic) -> None:
    call = {**WEATHER_CALL, "arguments": {"city": "Paris", "unit": "celsius"}}
    fake.queue(Reply(text="Checking.", tool_calls=[call]))
    result, partials = await stream_chat(d, P, tools=[WEATHER_TOOL])
    fragments = streamed_tool_fragments(partials)
    assert {k: fragments[0][k] for k in ("index", "id", "name")} == {
        "index": 0,
        "id": call["id"],
        "name": "get_weather",
    }
    # The argument pieces of one read are joined into the fragment they continue.
    assert json.loads("".join(f.get("arguments") or "" for f in fragments)) == call["arguments"]
    assert result["choices"][0]["message"]["toolCalls"] == [call]
    assert result["choices"][0]["finishReason"] == "tool_calls"


async def test_images_become_base64_and_url_sources(d: Daemon, fake: FakeAnthropic) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        {"type": "image", "url": "https://example.com/cat.jpg"},
    ]
    await chat(d, P, messages=[{"role": "user", "content": content}])
    assert last_body(fake)["messages"][0]["content"][1:] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


async def test_json_schema_uses_output_config_and_json_object_asks_in_system(
    d: Daemon, fake: FakeAnthropic
) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    await chat(d, P, responseFormat={"type": "json_schema", "schema": schema})
    assert last_body(fake)["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    await chat(d, P, responseFormat={"type": "json_object"})
    assert "JSON object" in last_body(fake)["system"]


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (
            anthropic_error(401, "authentication_error", "invalid x-api-key"),
            "authentication",
            False,
        ),
        (
            anthropic_error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your per-minute rate limit",
                {"retry-after": "7"},
            ),
            "rate_limited",
            True,
        ),
        (anthropic_error(500, "api_error", "Internal server error"), "api_error", True),
        (anthropic_error(529, "overloaded_error", "Overloaded"), "api_error", True),
        (
            anthropic_error(
                400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"
            ),
            "invalid_messages",
            False,
        ),
        (
            anthropic_error(
                413, "request_too_large", "Request exceeds the maximum allowed number of bytes."
            ),
            "invalid_messages",
            False,
        ),
    ],
)
async def test_error_bodies_map_to_kinds(
    d: Daemon, fake: FakeAnthropic, error: HttpError, kind: str, retryable: bool
) -> None:
    fake.queue(error)
    data = await chat_error(d, P)
    assert data["kind"] == kind
    assert data["retryable"] is retryable
    assert data["status"] == error.status
    assert data["requestId"] == REQUEST_ID
    assert data["provider"] == P
    assert error.body["error"]["message"] in data["message"]
    if error.status == 429:
        assert data["retryAfterMs"] == 7000


async def test_wrong_key_is_refused_without_echoing_it(
    env: dict[str, str], fake: FakeAnthropic
) -> None:
    async with start_daemon(anthropic_env(env, fake, key="sk-ant-wrong-key-123")) as d:
        data = await chat_error(d, P)
    assert data["kind"] == "authentication"
    assert data["status"] == 401
    assert "sk-ant-wrong-key-123" not in str(data)


async def test_overloaded_error_event_before_any_text_fails_the_request(
    d: Daemon, fake: FakeAnthropic
) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake.queue(StreamErrorEvent(body, chunks=0))
    token = "overloaded"
    with pytest.raises(JsonRpcException) as info:
        await chat(d, P, partialResultToken=token)
    assert info.value.data["kind"] == "api_error"
    assert info.value.data["retryable"] is True
    assert d.partials[token] == []


async def test_error_event_after_text_returns_interrupted_partial(
    d: Daemon, fake: FakeAnthropic
) -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake.queue(StreamErrorEvent(body, text="The answer is forty-two, as", chunks=3))
    result, partials = await stream_chat(d, P)
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["choices"][0]["message"]["content"] == streamed_text(partials)
    assert result["error"]["kind"] == "api_error"


async def test_truncated_stream_returns_partial_text_interrupted(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await check_truncated_stream_is_interrupted(d, fake, P)


async def test_truncated_stream_before_any_text_is_a_network_error(
    d: Daemon, fake: FakeAnthropic
) -> None:
    await check_cut_before_text_is_network_error(d, fake, P)


async def test_malformed_body_is_an_invalid_response(d: Daemon, fake: FakeAnthropic) -> None:
    await check_malformed_bodies_are_invalid_responses(
        d, fake, P, '{"id": "msg_1", "type": "message"}'
    )


async def test_list_models_follows_pages(
    env: dict[str, str], fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dspex_server.providers import anthropic

    monkeypatch.setattr(anthropic, "MODELS_PAGE_LIMIT", 2)
    models = await list_models_of(anthropic_env(env, fake), P)
    assert [(m.id, m.display_name) for m in models] == list(FakeAnthropic.model_ids)
    assert len(fake.requests) == 2  # two pages
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in fake.requests)
