"""The Chat Completions adapter through the daemon against a loopback fake OpenAI server."""

from __future__ import annotations

import pytest
from daemon import Daemon, start_daemon
from fakes.base import Garbage, Reply, TruncatedStream
from fakes.openai_server import FakeOpenAI, openai_error
from pygls.exceptions import JsonRpcException

USER = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def env(single_attempt_env: dict[str, str]) -> dict[str, str]:
    """These tests map single provider answers to kinds (see the reliability tests)."""
    return single_attempt_env


async def test_plain_chat_goes_through_the_fake(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="4", prompt_tokens=12, completion_tokens=1))
    result = await openai_daemon.request(
        "dspex/chat",
        {
            "messages": [{"role": "system", "content": "Be terse."}, *USER],
            "temperature": 0.2,
            "maxTokens": 50,
        },
    )
    assert result["provider"] == "openai"
    assert result["model"] == "gpt-4o-mini-2024-07-18"
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "4"}
    assert result["usage"]["promptTokens"] == 12
    assert result["usage"]["totalTokens"] == 13
    sent = fake_openai.requests[-1]
    assert sent.headers["Authorization"] == f"Bearer {fake_openai.api_key}"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert sent.body["temperature"] == 0.2
    assert sent.body["max_completion_tokens"] == 50
    assert "stream" not in sent.body


async def test_openai_is_the_default_provider_once_configured(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    result = await openai_daemon.request("dspex/chat", {"messages": USER})
    assert result["provider"] == "openai"
    assert "notices" not in result


async def test_streamed_chat_relays_deltas_and_usage(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="The answer is four.", completion_tokens=5))
    result = await openai_daemon.request("dspex/chat", {"messages": USER, "partialResultToken": 7})
    chunks = openai_daemon.partials[7]
    # Deltas that arrive in one read leave as one merged `$/progress` (partials.py).
    assert chunks
    assert "".join(c["delta"]["content"] for c in chunks) == "The answer is four."
    assert result["choices"][0]["message"]["content"] == "The answer is four."
    assert result["usage"]["completionTokens"] == 5
    sent = fake_openai.requests[-1].body
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}


async def test_tool_call_round_trip(openai_daemon: Daemon, fake_openai: FakeOpenAI) -> None:
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    fake_openai.queue(
        Reply(tool_calls=[{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}])
    )
    first = await openai_daemon.request(
        "dspex/chat", {"messages": USER, "tools": [tool], "toolChoice": {"name": "get_weather"}}
    )
    choice = first["choices"][0]
    assert choice["finishReason"] == "tool_calls"
    assert choice["message"]["toolCalls"] == [
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    sent = fake_openai.requests[-1].body
    assert sent["tools"][0] == {"type": "function", "function": tool}
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}

    fake_openai.queue(Reply(text="It is sunny in Paris."))
    follow_up = [
        *USER,
        choice["message"],
        {"role": "tool", "toolCallId": "call_1", "content": '{"sky": "sunny"}'},
    ]
    second = await openai_daemon.request("dspex/chat", {"messages": follow_up, "tools": [tool]})
    assert second["choices"][0]["message"]["content"] == "It is sunny in Paris."
    wire = fake_openai.requests[-1].body["messages"]
    assert wire[1]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert wire[2] == {"role": "tool", "content": '{"sky": "sunny"}', "tool_call_id": "call_1"}


async def test_streamed_tool_call_fragments_are_assembled(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(
        Reply(
            tool_calls=[
                {"id": "call_9", "name": "lookup", "arguments": {"query": "dspex", "limit": 3}}
            ]
        )
    )
    result = await openai_daemon.request(
        "dspex/chat",
        {
            "messages": USER,
            "partialResultToken": "t",
            "tools": [{"name": "lookup"}],
            "toolChoice": "required",
        },
    )
    assert result["choices"][0]["message"]["toolCalls"] == [
        {"id": "call_9", "name": "lookup", "arguments": {"query": "dspex", "limit": 3}}
    ]
    assert result["choices"][0]["finishReason"] == "tool_calls"
    assert fake_openai.requests[-1].body["tool_choice"] == "required"


@pytest.mark.parametrize(
    ("behaviour", "code", "kind", "retryable"),
    [
        (
            openai_error(
                401,
                "Incorrect API key provided: sk-test-f***",
                "invalid_request_error",
                "invalid_api_key",
            ),
            -32016,
            "authentication",
            False,
        ),
        (
            openai_error(
                429, "Rate limit reached", "requests", "rate_limit_exceeded", {"retry-after": "2"}
            ),
            -32006,
            "rate_limited",
            True,
        ),
        (openai_error(500, "The server had an error", "server_error"), -32004, "api_error", True),
        (
            openai_error(
                400,
                "This model's maximum context length is 128000 tokens",
                "invalid_request_error",
                "context_length_exceeded",
            ),
            -32007,
            "invalid_messages",
            False,
        ),
        (Garbage(), -32003, "invalid_response", False),
    ],
)
async def test_errors_map_to_kinds_and_the_next_request_succeeds(
    openai_daemon: Daemon,
    fake_openai: FakeOpenAI,
    behaviour: object,
    code: int,
    kind: str,
    retryable: bool,
) -> None:
    fake_openai.queue(behaviour)  # type: ignore[arg-type]
    with pytest.raises(JsonRpcException) as err:
        await openai_daemon.request("dspex/chat", {"messages": USER})
    data = err.value.data
    assert err.value.code == code
    assert data["kind"] == kind
    assert data["retryable"] is retryable
    assert data["provider"] == "openai"
    assert data["model"] == "gpt-4o-mini"
    if kind == "rate_limited":
        assert data["retryAfterMs"] == 2000
        assert data["status"] == 429
    ok = await openai_daemon.request("dspex/chat", {"messages": USER})
    assert ok["choices"][0]["message"]["content"] == "What is 2+2?"


async def test_wrong_key_is_an_authentication_error_with_status(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {**env, "OPENAI_API_KEY": "sk-wrong-key-123456", "OPENAI_BASE_URL": fake_openai.api_base}
    async with start_daemon(env) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/chat", {"messages": USER})
    assert err.value.data["kind"] == "authentication"
    assert err.value.data["status"] == 401
    assert "sk-wrong-key-123456" not in str(err.value.data)


async def test_connection_refused_is_a_network_error(env: dict[str, str]) -> None:
    env = {**env, "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    async with start_daemon(env) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/chat", {"messages": USER})
        assert err.value.data["kind"] == "network_error"
        assert err.value.data["retryable"] is True


async def test_slow_provider_hits_the_request_timeout(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="late", delay_s=2.0))
    with pytest.raises(JsonRpcException) as err:
        await openai_daemon.request("dspex/chat", {"messages": USER, "timeoutMs": 200})
    assert err.value.data["kind"] == "timeout"


async def test_truncated_stream_returns_the_partial_answer_as_interrupted(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(TruncatedStream(text="one two three four five six", chunks=2))
    result = await openai_daemon.request(
        "dspex/chat", {"messages": USER, "partialResultToken": "cut"}
    )
    choice = result["choices"][0]
    assert choice["finishReason"] == "interrupted"
    streamed = "".join(c["delta"]["content"] for c in openai_daemon.partials["cut"])
    assert choice["message"]["content"] == streamed != ""
    assert result["error"]["kind"] == "network_error"


async def test_garbage_in_a_plain_stream_is_invalid_response(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Garbage())
    with pytest.raises(JsonRpcException) as err:
        await openai_daemon.request("dspex/chat", {"messages": USER, "partialResultToken": "g"})
    assert err.value.data["kind"] == "invalid_response"
    assert "text/html" in err.value.data["message"]
