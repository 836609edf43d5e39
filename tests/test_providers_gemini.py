"""The Gemini API adapter, through the real daemon, against a loopback fake."""

from __future__ import annotations

from typing import Any

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Garbage, HttpError, Reply, StreamErrorEvent
from fakes.gemini_server import FAKE_SIGNATURE, FakeGemini, fake_vector, gemini_error
from gemini_support import P, d, fake, fresh_fake, gemini_env
from gemini_support import sent as last_body
from provider_checks import (
    WEATHER_CALL,
    WEATHER_TOOL,
    chat,
    chat_error,
    check_cut_before_text_is_network_error,
    check_malformed_bodies_are_invalid_responses,
    check_truncated_stream_is_interrupted,
    embed_error,
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


async def test_plain_chat_sends_generate_content_and_parses_answer(
    d: Daemon, fake: FakeGemini
) -> None:
    result = await chat(
        d,
        P,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": "Again"},
        ],
        temperature=0.3,
        maxTokens=100,
        topP=0.9,
        stop=["END"],
        seed=7,
    )
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "Again"}
    assert result["choices"][0]["finishReason"] == "stop"
    # Thinking tokens (5) count as output, as they are billed.
    assert result["usage"] == {
        "promptTokens": 11,
        "completionTokens": 12,
        "totalTokens": 23,
        "cachedTokens": 2,
        "reasoningTokens": 5,
    }
    recorded = fake.requests[-1]
    assert recorded.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert recorded.headers["x-goog-api-key"] == fake.api_key
    assert "key" not in recorded.path
    assert recorded.body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Say hi"}]},
            {"role": "model", "parts": [{"text": "Hi!"}]},
            {"role": "user", "parts": [{"text": "Again"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.3,
            "maxOutputTokens": 100,
            "topP": 0.9,
            "stopSequences": ["END"],
            "seed": 7,
        },
    }


async def test_google_api_key_also_configures_gemini(env: dict[str, str], fake: FakeGemini) -> None:
    async with start_daemon(gemini_env(env, fake, key_env="GOOGLE_API_KEY")) as d:
        result = await chat(d, P)
    assert result["provider"] == P


async def test_streamed_chat_uses_sse_and_sends_deltas_then_result(
    d: Daemon, fake: FakeGemini
) -> None:
    fake.queue(Reply(text="Hello from a streamed Gemini", prompt_tokens=20, completion_tokens=9))
    result, partials = await stream_chat(d, P)
    assert (
        partials
    )  # Deltas that arrive in one read leave as one merged `$/progress` (partials.py).
    assert streamed_text(partials) == "Hello from a streamed Gemini"
    assert result["choices"][0]["message"]["content"] == "Hello from a streamed Gemini"
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"]["promptTokens"] == 20
    assert result["usage"]["completionTokens"] == 14
    recorded = fake.requests[-1]
    assert recorded.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert recorded.headers["x-goog-api-key"] == fake.api_key


async def test_tool_call_round_trip_names_the_function_response(
    d: Daemon, fake: FakeGemini
) -> None:
    fake.queue(Reply(tool_calls=[WEATHER_CALL]))
    ask = {"role": "user", "content": "Weather in Paris?"}
    result = await chat(d, P, messages=[ask], tools=[WEATHER_TOOL], toolChoice="auto")
    message = result["choices"][0]["message"]
    assert result["choices"][0]["finishReason"] == "tool_calls"
    [call] = message["toolCalls"]
    assert call["name"] == "get_weather"
    assert call["arguments"] == {"city": "Paris"}
    assert call["id"]  # Gemini sent none: dspex made one up
    sent = last_body(fake)
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "parametersJsonSchema": WEATHER_TOOL["parameters"],
                }
            ]
        }
    ]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}

    fake.queue(Reply(text="Sunny."))
    await chat(
        d,
        P,
        messages=[
            ask,
            message,
            {"role": "tool", "toolCallId": call["id"], "content": '{"sky": "sunny"}'},
        ],
        tools=[WEATHER_TOOL],
    )
    assert last_body(fake)["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    # The signature Gemini sent with the call goes back with it.
                    "thoughtSignature": FAKE_SIGNATURE,
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "sunny"}}}],
        },
    ]


async def test_tool_result_for_an_unknown_call_is_invalid_messages(d: Daemon) -> None:
    data = await chat_error(
        d,
        P,
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "tool", "toolCallId": "nowhere", "content": "42"},
        ],
    )
    assert data["kind"] == "invalid_messages"


async def test_foreign_tool_history_gets_the_skip_signature_on_gemini_3(
    d: Daemon, fake: FakeGemini
) -> None:
    await chat(
        d,
        P,
        model="gemini-3-pro-preview",
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "toolCalls": [WEATHER_CALL]},
            {"role": "tool", "toolCallId": WEATHER_CALL["id"], "content": "sunny"},
        ],
    )
    model_turn = last_body(fake)["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    # A provider-issued id is kept on both sides.
    assert model_turn["parts"][0]["functionCall"]["id"] == WEATHER_CALL["id"]
    response = last_body(fake)["contents"][2]["parts"][0]["functionResponse"]
    assert response == {
        "name": "get_weather",
        "response": {"result": "sunny"},
        "id": WEATHER_CALL["id"],
    }


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ({"name": "get_weather"}, {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ],
)
async def test_tool_choice_mapping(
    d: Daemon, fake: FakeGemini, choice: Any, config: dict[str, Any]
) -> None:
    await chat(d, P, tools=[WEATHER_TOOL], toolChoice=choice)
    assert last_body(fake)["toolConfig"] == {"functionCallingConfig": config}


async def test_streamed_tool_call_is_assembled(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(Reply(text="Checking.", tool_calls=[WEATHER_CALL]))
    result, partials = await stream_chat(d, P, tools=[WEATHER_TOOL])
    [fragment] = streamed_tool_fragments(partials)
    assert fragment["index"] == 0
    assert fragment["name"] == "get_weather"
    [call] = result["choices"][0]["message"]["toolCalls"]
    assert (call["name"], call["arguments"]) == ("get_weather", {"city": "Paris"})
    assert call["id"] == fragment["id"]
    assert result["choices"][0]["finishReason"] == "tool_calls"
    assert result["choices"][0]["message"]["content"] == "Checking."


async def test_json_schema_sets_response_mime_type_and_json_schema(
    d: Daemon, fake: FakeGemini
) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "additionalProperties": False,
    }
    await chat(d, P, responseFormat={"type": "json_schema", "schema": schema})
    config = last_body(fake)["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


async def test_images_become_inline_data_and_file_data(d: Daemon, fake: FakeGemini) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "url": "data:image/jpeg;base64,/9j/4AAQ"},
        {"type": "image", "url": "gs://bucket/cat.png", "mimeType": "image/png"},
    ]
    await chat(d, P, messages=[{"role": "user", "content": content}])
    assert last_body(fake)["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"fileUri": "gs://bucket/cat.png", "mimeType": "image/png"}},
    ]


async def test_embeddings_use_batch_embed_contents(d: Daemon, fake: FakeGemini) -> None:
    result = await d.request(
        "dspex/embed",
        {"inputs": ["alpha", "beta"], "provider": P, "dimensions": 4, "inputType": "query"},
    )
    assert result["embeddings"] == [fake_vector("alpha", 4), fake_vector("beta", 4)]
    assert result["dimensions"] == 4
    assert result["model"] == "gemini-embedding-001"
    recorded = fake.requests[-1]
    assert recorded.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert recorded.body["requests"][0] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "alpha"}]},
        "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 4,
    }


async def test_embeddings_without_a_provider_stay_local_with_gemini_configured(
    d: Daemon, fake: FakeGemini
) -> None:
    # dspex/embed's default is the in-process `local` embedder (offline, free); a
    # configured cloud embedder answers only when named (or when wordllama is missing).
    before = len(fake.requests)
    result = await d.request("dspex/embed", {"inputs": ["x"]})
    assert result["provider"] == "local"
    assert len(fake.requests) == before


async def test_embedding_errors_map_like_chat_errors(d: Daemon, fake: FakeGemini) -> None:
    key, fake.api_key = fake.api_key, "another-key"
    try:
        data = await embed_error(d, inputs=["x"], provider=P)
    finally:
        fake.api_key = key
    assert (data["kind"], data["status"]) == ("authentication", 400)


RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}


@pytest.mark.parametrize(
    ("error", "kind", "retryable", "retry_ms"),
    [
        (
            gemini_error(
                429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [RETRY_INFO]
            ),
            "rate_limited",
            True,
            31000,
        ),
        (
            gemini_error(
                429, "RESOURCE_EXHAUSTED", "Quota exceeded.", headers={"Retry-After": "3"}
            ),
            "rate_limited",
            True,
            3000,
        ),
        (
            gemini_error(
                400,
                "INVALID_ARGUMENT",
                "The input token count exceeds the maximum number of tokens allowed 1048576.",
            ),
            "invalid_messages",
            False,
            None,
        ),
        (
            gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
            "api_error",
            True,
            None,
        ),
        (gemini_error(500, "INTERNAL", "An internal error has occurred."), "api_error", True, None),
        (
            gemini_error(403, "PERMISSION_DENIED", "Permission denied."),
            "authentication",
            False,
            None,
        ),
        (gemini_error(504, "DEADLINE_EXCEEDED", "Deadline exceeded."), "timeout", True, None),
    ],
)
async def test_error_bodies_map_to_kinds(
    d: Daemon,
    fake: FakeGemini,
    error: HttpError,
    kind: str,
    retryable: bool,
    retry_ms: int | None,
) -> None:
    fake.queue(error)
    data = await chat_error(d, P)
    assert data["kind"] == kind
    assert data["retryable"] is retryable
    assert data["status"] == error.status
    assert data.get("retryAfterMs") == retry_ms
    assert error.body["error"]["message"] in data["message"]


async def test_invalid_key_is_an_authentication_error_although_gemini_says_400(
    env: dict[str, str], fake: FakeGemini
) -> None:
    async with start_daemon(gemini_env(env, fake, key="AIzaWrongKey000")) as d:
        data = await chat_error(d, P)
    assert (data["kind"], data["status"], data["retryable"]) == ("authentication", 400, False)
    assert "API_KEY_INVALID" in data["message"]
    assert "AIzaWrongKey000" not in str(data)


async def test_blocked_prompt_is_a_content_filter_finish(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(
        Garbage(
            body='{"promptFeedback": {"blockReason": "SAFETY"}, '
            '"usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}',
            content_type="application/json",
        )
    )
    result = await chat(d, P)
    assert result["choices"][0]["finishReason"] == "content_filter"
    assert result["choices"][0]["message"].get("content") is None


async def test_max_tokens_finish_is_length(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(Reply(text="cut", finish_reason="MAX_TOKENS"))
    result = await chat(d, P)
    assert result["choices"][0]["finishReason"] == "length"


async def test_error_chunk_in_stream_before_text_fails_the_request(
    d: Daemon, fake: FakeGemini
) -> None:
    fake.queue(
        StreamErrorEvent({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    )
    with pytest.raises(JsonRpcException) as info:
        await chat(d, P, partialResultToken="err")
    assert (info.value.data["kind"], info.value.data["retryable"]) == ("api_error", True)


async def test_truncated_stream_returns_partial_text_interrupted(
    d: Daemon, fake: FakeGemini
) -> None:
    await check_truncated_stream_is_interrupted(d, fake, P)


async def test_truncated_stream_before_any_text_is_a_network_error(
    d: Daemon, fake: FakeGemini
) -> None:
    await check_cut_before_text_is_network_error(d, fake, P)


async def test_malformed_body_is_an_invalid_response(d: Daemon, fake: FakeGemini) -> None:
    await check_malformed_bodies_are_invalid_responses(d, fake, P, '{"candidates": "nope"}')


async def test_list_models_follows_pages(
    env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dspex_server.providers import gemini

    monkeypatch.setattr(gemini, "MODELS_PAGE_SIZE", 2)
    models = await list_models_of(gemini_env(env, fake), P)
    assert [m.id for m in models] == [m[0] for m in FakeGemini.models_listed]
    assert models[0].context_window == 1048576
    assert models[0].max_output_tokens == 65536
    assert models[0].capabilities == frozenset({"chat"})
    assert models[2].capabilities == frozenset({"embeddings"})
    assert len(fake.requests) == 2
