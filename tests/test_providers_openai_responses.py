"""The OpenAI Responses API adapter, through the real daemon, against a loopback fake:
requests, answers, options mapped or refused, errors, stream faults, and how `openai`
chooses it."""

from __future__ import annotations

from typing import Any

import pytest
from daemon import Daemon, clean_env, start_daemon
from fakes.base import CleanClose, Garbage, HttpError, MalformedEvent, Reply, StreamErrorEvent
from fakes.openai_responses_server import REQUEST_ID, FakeOpenAIResponses, responses_error
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
from responses_support import P, d, fake, fresh_fake, last_body, responses_env

from dspex_server.config import ConfigStore
from dspex_server.providers.registry import AdapterRegistry
from dspex_server.providers.table import PROVIDER_BY_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here


async def test_plain_chat_sends_instructions_and_input_items(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(text="Hi there.", prompt_tokens=1200, cached_tokens=1024))
    result = await chat(
        d,
        P,
        model="gpt-4.1",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi"},
        ],
        temperature=0.3,
        topP=0.9,
        maxTokens=50,
    )
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "Hi there."}
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"] == {
        "promptTokens": 1200,
        "completionTokens": 7,
        "totalTokens": 1207,
        "cachedTokens": 1024,
        "reasoningTokens": 0,
    }
    assert result["responseId"].startswith("resp_fake_")
    assert result["model"] == "gpt-4.1-2026-01-01"
    recorded = fake.requests[-1]
    assert recorded.path == "/v1/responses"
    assert recorded.headers["Authorization"] == f"Bearer {fake.api_key}"
    # gpt-4.1 does not reason (per the catalog): no encrypted reasoning asked for.
    assert recorded.body == {
        "model": "gpt-4.1",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "Say hi"}],
        "store": False,
        "temperature": 0.3,
        "top_p": 0.9,
        "max_output_tokens": 50,
    }


async def test_streamed_chat_follows_the_typed_events(d: Daemon, fake: FakeOpenAIResponses) -> None:
    fake.queue(Reply(text="Hello from a streamed response", prompt_tokens=20, completion_tokens=9))
    result, partials = await stream_chat(d, P, model="gpt-4.1")
    assert streamed_text(partials) == "Hello from a streamed response"
    message = result["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Hello from a streamed response"}
    assert result["usage"]["promptTokens"] == 20
    assert result["usage"]["completionTokens"] == 9
    assert result["responseId"].startswith("resp_fake_")
    assert last_body(fake)["stream"] is True


async def test_tool_call_round_trip(d: Daemon, fake: FakeOpenAIResponses) -> None:
    fake.queue(Reply(text="Let me check.", tool_calls=[WEATHER_CALL]))
    ask = {"role": "user", "content": "Weather in Paris?"}
    result = await chat(
        d,
        P,
        model="gpt-4.1",
        messages=[ask],
        tools=[WEATHER_TOOL],
        toolChoice={"name": "get_weather"},
    )
    choice = result["choices"][0]
    assert choice["finishReason"] == "tool_calls"
    call = choice["message"]["toolCalls"][0]
    assert {k: call[k] for k in ("id", "name", "arguments")} == WEATHER_CALL
    assert call["itemId"].startswith("fc_")
    sent = last_body(fake)
    assert sent["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": WEATHER_TOOL["parameters"],
            "strict": False,
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "name": "get_weather"}

    fake.queue(Reply(text="Sunny."))
    answer = choice["message"]
    result = await chat(
        d,
        P,
        model="gpt-4.1",
        messages=[
            ask,
            answer,
            {"role": "tool", "toolCallId": WEATHER_CALL["id"], "content": "sunny"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert result["choices"][0]["message"]["content"] == "Sunny."
    # No reasoning in the answer: its items go back unlinked (no item ids).
    assert last_body(fake)["input"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "Let me check."},
        {
            "type": "function_call",
            "call_id": WEATHER_CALL["id"],
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        },
        {"type": "function_call_output", "call_id": WEATHER_CALL["id"], "output": "sunny"},
    ]


async def test_streamed_tool_call_fragments_are_renumbered_from_zero(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    second = {"id": "call_2", "name": "get_weather", "arguments": {"city": "Rome"}}
    fake.queue(Reply(blocks=["Checking both."], tool_calls=[WEATHER_CALL, second]))
    result, partials = await stream_chat(d, P, model="gpt-4.1", tools=[WEATHER_TOOL])
    fragments = streamed_tool_fragments(partials)
    assert [f["index"] for f in fragments if "id" in f] == [0, 1]
    calls = result["choices"][0]["message"]["toolCalls"]
    assert [(c["id"], c["arguments"]) for c in calls] == [
        (WEATHER_CALL["id"], {"city": "Paris"}),
        ("call_2", {"city": "Rome"}),
    ]
    assert result["choices"][0]["finishReason"] == "tool_calls"


@pytest.mark.parametrize("choice", ["auto", "required", "none"])
async def test_tool_choice_strings_pass_through(
    d: Daemon, fake: FakeOpenAIResponses, choice: str
) -> None:
    await chat(d, P, model="gpt-4.1", tools=[{**WEATHER_TOOL, "strict": True}], toolChoice=choice)
    sent = last_body(fake)
    assert sent["tool_choice"] == choice
    assert sent["tools"][0]["strict"] is True


async def test_response_formats_map_to_text_format(d: Daemon, fake: FakeOpenAIResponses) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    await chat(
        d,
        P,
        model="gpt-4.1",
        responseFormat={"type": "json_schema", "name": "out", "schema": schema, "strict": True},
    )
    assert last_body(fake)["text"] == {
        "format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}
    }
    await chat(d, P, model="gpt-4.1", responseFormat={"type": "json_object"})
    assert last_body(fake)["text"] == {"format": {"type": "json_object"}}


async def test_user_metadata_and_parallel_tool_calls_are_mapped(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    await chat(
        d,
        P,
        model="gpt-4.1",
        user="user-42",
        metadata={"team": "docs"},
        parallelToolCalls=False,
        tools=[WEATHER_TOOL],
    )
    sent = last_body(fake)
    assert sent["safety_identifier"] == "user-42"
    assert sent["metadata"] == {"team": "docs"}
    assert sent["parallel_tool_calls"] is False
    assert "user" not in sent


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"n": 2}, "n"),
        ({"seed": 7}, "seed"),
        ({"frequencyPenalty": 0.5}, "frequencyPenalty"),
        ({"presencePenalty": 0.5}, "presencePenalty"),
        ({"cachedContent": "cachedContents/abc"}, "cachedContent"),
        ({"stop": ["END"]}, "stop sequences"),
        ({"reasoning": {"budgetTokens": 1024}}, "budgetTokens"),
        ({"user": "u" * 65}, "safety_identifier"),
        ({"serverTools": [{"name": "url_context"}]}, "url_context"),
        ({"serverTools": [{"name": "file_search"}]}, "vector_store_ids"),
        ({"serverTools": [{"name": "mcp", "config": {"server_label": "x"}}]}, "server_url"),
    ],
)
async def test_what_the_api_lacks_is_refused_before_sending(
    d: Daemon, fake: FakeOpenAIResponses, params: dict[str, Any], named: str
) -> None:
    data = await chat_error(d, P, model="o4-mini", **params)
    assert data["kind"] == "invalid_messages"
    assert named in data["message"]
    assert fake.requests == []


async def test_audio_parts_are_refused(d: Daemon, fake: FakeOpenAIResponses) -> None:
    audio = {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"}
    data = await chat_error(d, P, messages=[{"role": "user", "content": [audio]}])
    assert data["kind"] == "invalid_messages"
    assert "audio" in data["message"]
    assert fake.requests == []


async def test_images_and_documents_become_input_parts(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    content = [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
        {"type": "image", "url": "https://example.com/cat.jpg"},
        {
            "type": "document",
            "data": "JVBERi0xLjQ=",
            "mimeType": "application/pdf",
            "name": "a.pdf",
        },
        {"type": "document", "data": "aGVsbG8=", "mimeType": "text/plain"},
        {"type": "document", "url": "https://example.com/report.pdf"},
    ]
    await chat(d, P, model="gpt-4.1", messages=[{"role": "user", "content": content}])
    assert last_body(fake)["input"][0]["content"] == [
        {"type": "input_text", "text": "Compare these."},
        {
            "type": "input_image",
            "image_url": "data:image/png;base64,iVBORw0KGgo=",
            "detail": "auto",
        },
        {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "auto"},
        {
            "type": "input_file",
            "filename": "a.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0xLjQ=",
        },
        {
            "type": "input_file",
            "filename": "document.txt",
            "file_data": "data:text/plain;base64,aGVsbG8=",
        },
        {"type": "input_file", "file_url": "https://example.com/report.pdf"},
    ]


async def test_cache_control_is_accepted_and_cache_tokens_reported(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(text="ok", prompt_tokens=4020, cached_tokens=0, cache_write_tokens=4012))
    prefix = {
        "type": "text",
        "text": "A long shared prefix.",
        "cacheControl": {"type": "ephemeral"},
    }
    result = await chat(d, P, model="gpt-4.1", messages=[{"role": "user", "content": [prefix]}])
    assert result["usage"]["cacheWriteTokens"] == 4012
    assert result["usage"]["cachedTokens"] == 0
    # OpenAI caches prefixes by itself: nothing of the breakpoint is sent.
    assert last_body(fake)["input"][0] == {"role": "user", "content": "A long shared prefix."}


async def test_logprobs_ask_for_them_and_come_back(d: Daemon, fake: FakeOpenAIResponses) -> None:
    fake.queue(Reply(text="abcdefgh"))
    result = await chat(d, P, model="gpt-4.1", logprobs=True, topLogprobs=2)
    sent = last_body(fake)
    assert "message.output_text.logprobs" in sent["include"]
    assert sent["top_logprobs"] == 2
    tokens = result["choices"][0]["logprobs"]
    assert "".join(t["token"] for t in tokens) == "abcdefgh"
    assert tokens[0]["logprob"] == -0.5
    fake.queue(Reply(text="abcdefgh"))
    streamed, _ = await stream_chat(d, P, model="gpt-4.1", logprobs=True)
    assert streamed["choices"][0]["logprobs"] == tokens


async def test_a_refusal_is_a_refusal_part(d: Daemon, fake: FakeOpenAIResponses) -> None:
    from fakes.base import Refusal

    fake.queue(Reply(blocks=[Refusal("I can't help with that.")]))
    result = await chat(d, P, model="gpt-4.1")
    message = result["choices"][0]["message"]
    assert message["parts"] == [{"type": "refusal", "text": "I can't help with that."}]
    assert "content" not in message
    fake.queue(Reply(blocks=[Refusal("I can't help with that.")]))
    streamed, partials = await stream_chat(d, P, model="gpt-4.1")
    assert "".join(p["delta"].get("refusal", "") for p in partials) == "I can't help with that."
    assert streamed["choices"][0]["message"] == message


@pytest.mark.parametrize(
    ("finish", "mapped"), [("length", "length"), ("content_filter", "content_filter")]
)
async def test_an_incomplete_response_maps_its_reason(
    d: Daemon, fake: FakeOpenAIResponses, finish: str, mapped: str
) -> None:
    fake.queue(Reply(text="cut sho", finish_reason=finish))
    result = await chat(d, P, model="gpt-4.1")
    assert result["choices"][0]["finishReason"] == mapped
    fake.queue(Reply(text="cut sho", finish_reason=finish))
    streamed, _ = await stream_chat(d, P, model="gpt-4.1")
    assert streamed["choices"][0]["finishReason"] == mapped
    assert streamed["choices"][0]["message"]["content"] == "cut sho"


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (
            responses_error(401, "Incorrect API key provided.", code="invalid_api_key"),
            "authentication",
            False,
        ),
        (
            HttpError(
                429,
                {
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                        "param": None,
                    }
                },
                {"retry-after-ms": "1500", "x-request-id": REQUEST_ID},
            ),
            "rate_limited",
            True,
        ),
        (responses_error(500, "The server had an error.", type_="server_error"), "api_error", True),
        (
            responses_error(
                400,
                "Invalid 'temperature': decimal below minimum value.",
                code="decimal_below_min_value",
            ),
            "invalid_messages",
            False,
        ),
    ],
)
async def test_error_bodies_map_to_kinds(
    d: Daemon, fake: FakeOpenAIResponses, error: HttpError, kind: str, retryable: bool
) -> None:
    fake.queue(error)
    data = await chat_error(d, P, model="gpt-4.1")
    assert data["kind"] == kind
    assert data["retryable"] is retryable
    assert data["status"] == error.status
    assert data["requestId"] == REQUEST_ID
    assert error.body["error"]["message"] in data["message"]
    if error.status == 429:
        assert data["retryAfterMs"] == 1500


async def test_a_failed_response_is_an_error_plain_and_streamed(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    failed = {
        "id": "resp_failed",
        "object": "response",
        "status": "failed",
        "error": {"code": "server_error", "message": "The model failed to answer."},
        "output": [],
        "model": "gpt-4.1",
        "usage": None,
    }
    fake.queue(Garbage(body=__import__("json").dumps(failed), content_type="application/json"))
    data = await chat_error(d, P, model="gpt-4.1")
    assert data["kind"] == "api_error"
    assert data["retryable"] is True
    assert "The model failed to answer." in data["message"]
    # In a stream: an `error` event after some text ends it, interrupted, with the error.
    body = {"code": "server_error", "message": "The server had an error while processing."}
    fake.queue(StreamErrorEvent(body, text="partial answer", chunks=2))
    result, partials = await stream_chat(d, P, model="gpt-4.1")
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["choices"][0]["message"]["content"] == streamed_text(partials) != ""
    assert result["error"]["kind"] == "api_error"
    assert "while processing" in result["error"]["message"]


async def test_truncated_stream_is_interrupted(d: Daemon, fake: FakeOpenAIResponses) -> None:
    await check_truncated_stream_is_interrupted(d, fake, P)


async def test_cut_before_text_is_network_error(d: Daemon, fake: FakeOpenAIResponses) -> None:
    await check_cut_before_text_is_network_error(d, fake, P)


async def test_malformed_bodies_are_invalid_responses(d: Daemon, fake: FakeOpenAIResponses) -> None:
    await check_malformed_bodies_are_invalid_responses(d, fake, P, '{"id": "resp_x"}')


async def test_a_malformed_event_is_skipped_and_counted(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(MalformedEvent(text="one two three four five six", at=2))
    result, partials = await stream_chat(d, P, model="gpt-4.1")
    assert streamed_text(partials) == "one two three four five six"
    assert result["choices"][0]["finishReason"] == "stop"
    assert any("malformed" in n for n in result["notices"])


async def test_a_stream_closed_before_response_completed_is_interrupted(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(CleanClose(text="one two three four five six", chunks=3))
    result, partials = await stream_chat(d, P, model="gpt-4.1")
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["error"]["kind"] == "network_error"
    assert "response.completed" in result["error"]["message"]
    assert result["choices"][0]["message"]["content"] == streamed_text(partials)


async def test_models_are_listed(env: dict[str, str], fake: FakeOpenAIResponses) -> None:
    listed = await list_models_of(responses_env(env, fake), P)
    assert [m.id for m in listed] == list(fake.model_ids)


# -- how `openai` chooses the Responses API ---------------------------------------------


async def test_openai_sends_a_responses_only_model_to_the_responses_api(
    d: Daemon, fake: FakeOpenAIResponses
) -> None:
    fake.queue(Reply(text="Thought it through."))
    result = await chat(d, "openai", model="o3-pro")
    assert result["provider"] == "openai"
    assert result["choices"][0]["message"]["content"] == "Thought it through."
    assert fake.requests[-1].path == "/v1/responses"
    # o3-pro reasons (per the catalog): its encrypted reasoning is asked for.
    assert last_body(fake)["include"] == ["reasoning.encrypted_content"]


async def test_api_responses_sends_every_openai_model_there(
    env: dict[str, str], fake: FakeOpenAIResponses
) -> None:
    options = {"providers": {"openai": {"api": "responses"}}}
    async with start_daemon(responses_env(env, fake), initialization_options=options) as d:
        result = await chat(d, "openai", model="gpt-4.1")
    assert result["choices"][0]["message"]["content"] == "Say hi"
    assert fake.requests[-1].path == "/v1/responses"


@pytest.mark.parametrize(
    ("api", "model", "wire"),
    [
        (None, "gpt-4o-mini", "openai_compat"),
        (None, "o3-pro-2025-06-10", "openai_responses"),
        (None, "gpt-5-codex", "openai_responses"),
        ("chat", "o3-pro", "openai_compat"),
        ("responses", "gpt-4o-mini", "openai_responses"),
    ],
)
async def test_the_openai_api_setting_picks_the_wire_format(
    env: dict[str, str], api: str | None, model: str, wire: str
) -> None:
    config = ConfigStore({**env, "OPENAI_API_KEY": "sk-x"})
    if api is not None:
        config.set_layer("initializationOptions", {"providers": {"openai": {"api": api}}})
    registry = AdapterRegistry(config)
    assert registry.wire_format(PROVIDER_BY_NAME["openai"], model) == wire
    assert registry.wire_format(PROVIDER_BY_NAME["openai-responses"], model) == "openai_responses"


async def test_openai_responses_shares_openais_configured_key(
    tmp_path: Any, fake: FakeOpenAIResponses
) -> None:
    env = clean_env(tmp_path)
    options = {"providers": {"openai": {"apiKey": fake.api_key, "baseUrl": fake.api_base}}}
    async with start_daemon(env, initialization_options=options) as d:
        result = await chat(d, P, model="gpt-4.1")
    assert result["provider"] == P
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.api_key}"
