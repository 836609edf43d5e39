"""Ollama's native API through the real daemon, against a loopback fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.base import Garbage, Reply, TruncatedStream
from fakes.ollama_server import FakeOllama, StreamFailure, ollama_error
from provider_cases import PNG_B64, WEATHER_TOOL, image_message, rpc_error, user_chat

# One fake and one daemon for the module (a daemon takes seconds to start on a loaded
# machine); each test scripts the fake afresh and reads only its own requests.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake_ollama() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as fake:
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ollama(
    tmp_path_factory: pytest.TempPathFactory, fake_ollama: FakeOllama
) -> AsyncIterator[Daemon]:
    env = clean_env(tmp_path_factory.mktemp("ollama"), OLLAMA_HOST=fake_ollama.base_url)
    async with start_daemon(env, initialization_options=SINGLE_ATTEMPT) as d:
        yield d


@pytest.fixture(autouse=True)
def fresh_script(fake_ollama: FakeOllama) -> None:
    fake_ollama.script.clear()


async def test_plain_chat_sends_the_native_body_and_returns_usage(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    result = await ollama.request(
        "dspex/chat",
        chat(
            temperature=0.2,
            maxTokens=64,
            topP=0.9,
            stop=["\n\n"],
            seed=7,
            responseFormat={"type": "json_object"},
        ),
    )
    assert result["choices"][0]["message"]["content"] == "Why is the sky blue?"
    assert result["choices"][0]["finishReason"] == "stop"
    assert result["usage"] == {"promptTokens": 11, "completionTokens": 7, "totalTokens": 18}
    assert result["provider"] == "ollama" and result["model"] == "llama3.2"
    sent = fake_ollama.requests[-1]
    assert sent.path == "/api/chat"
    assert sent.body["stream"] is False
    assert sent.body["format"] == "json"
    assert sent.body["options"] == {
        "temperature": 0.2,
        "num_predict": 64,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
    }
    assert sent.body["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]


async def test_json_schema_response_format_is_sent_as_format(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    await ollama.request(
        "dspex/chat", chat(responseFormat={"type": "json_schema", "schema": schema})
    )
    assert fake_ollama.requests[-1].body["format"] == schema


async def test_length_done_reason_maps_to_length(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    fake_ollama.queue(Reply(text="cut", finish_reason="length"))
    result = await ollama.request("dspex/chat", chat())
    assert result["choices"][0]["finishReason"] == "length"


async def test_streamed_chat_sends_deltas_then_the_final_result_with_usage(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.queue(Reply(text="Rayleigh scattering, mostly.", prompt_tokens=26))
    result = await ollama.request("dspex/chat", chat(partialResultToken="tok"))
    deltas = [p["delta"].get("content") for p in ollama.partials["tok"]]
    # Deltas that arrive in one read leave as one merged `$/progress` (partials.py).
    assert deltas
    assert "".join(d for d in deltas if d) == "Rayleigh scattering, mostly."
    assert result["choices"][0]["message"]["content"] == "Rayleigh scattering, mostly."
    assert result["usage"]["promptTokens"] == 26 and result["usage"]["completionTokens"] == 7
    assert fake_ollama.requests[-1].body["stream"] is True


async def test_tool_call_round_trip(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    fake_ollama.queue(
        Reply(tool_calls=[{"id": "x", "name": "get_weather", "arguments": {"city": "Paris"}}])
    )
    first = await ollama.request(
        "dspex/chat", chat("Weather in Paris?", tools=[WEATHER_TOOL], toolChoice="auto")
    )
    message = first["choices"][0]["message"]
    assert first["choices"][0]["finishReason"] == "tool_calls"
    [call] = message["toolCalls"]
    assert call["name"] == "get_weather" and call["arguments"] == {"city": "Paris"}
    assert call["id"].startswith("call_")  # Ollama sends no id: one is generated
    tool_def = fake_ollama.requests[-1].body["tools"][0]
    assert tool_def == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": WEATHER_TOOL["parameters"],
        },
    }

    fake_ollama.queue(Reply(text="It is sunny in Paris."))
    second = await ollama.request(
        "dspex/chat",
        {
            "provider": "ollama",
            "tools": [WEATHER_TOOL],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                message,
                {"role": "tool", "toolCallId": call["id"], "content": '{"sky": "sunny"}'},
            ],
        },
    )
    assert second["choices"][0]["message"]["content"] == "It is sunny in Paris."
    sent = fake_ollama.requests[-1].body["messages"]
    assert sent[1]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    ]
    assert sent[2] == {"role": "tool", "content": '{"sky": "sunny"}', "tool_name": "get_weather"}


async def test_tool_choice_none_offers_no_tools(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    await ollama.request("dspex/chat", chat(tools=[WEATHER_TOOL], toolChoice="none"))
    assert "tools" not in fake_ollama.requests[-1].body


async def test_streamed_tool_call_arrives_as_a_delta_and_in_the_result(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.queue(
        Reply(
            text="Checking.",
            tool_calls=[{"id": "x", "name": "get_weather", "arguments": {"city": "Oslo"}}],
        )
    )
    result = await ollama.request("dspex/chat", chat(tools=[WEATHER_TOOL], partialResultToken=5))
    fragments = [t for p in ollama.partials[5] for t in p["delta"].get("toolCalls") or []]
    assert [f["name"] for f in fragments] == ["get_weather"]
    assert result["choices"][0]["finishReason"] == "tool_calls"
    [call] = result["choices"][0]["message"]["toolCalls"]
    assert call["arguments"] == {"city": "Oslo"} and call["id"] == fragments[0]["id"]
    assert result["choices"][0]["message"]["content"] == "Checking."


async def test_embeddings_use_api_embed(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    result = await ollama.request(
        "dspex/embed", {"provider": "ollama", "inputs": ["one two", "three"], "dimensions": 8}
    )
    assert result["model"] == "nomic-embed-text" and result["dimensions"] == 8
    assert len(result["embeddings"]) == 2
    assert result["embeddings"][0] != result["embeddings"][1]
    assert result["usage"]["promptTokens"] == 3
    sent = fake_ollama.requests[-1]
    assert sent.path == "/api/embed"
    assert sent.body == {
        "model": "nomic-embed-text",
        "input": ["one two", "three"],
        "dimensions": 8,
    }


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (404, "api_error", False),
        (400, "invalid_messages", False),
        (500, "api_error", True),
        (503, "api_error", True),
    ],
)
async def test_error_bodies_map_to_kinds(
    ollama: Daemon, fake_ollama: FakeOllama, status: int, kind: str, retryable: bool
) -> None:
    fake_ollama.queue(ollama_error(status, f'model "nope" failed with {status}'))
    data = await rpc_error(ollama, "dspex/chat", chat(model="nope"))
    assert data["kind"] == kind and data["retryable"] is retryable
    assert data["status"] == status
    assert f"failed with {status}" in data["message"]
    assert data["provider"] == "ollama" and data["model"] == "nope"


async def test_embed_error_body_maps_to_api_error(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    fake_ollama.queue(ollama_error(404, 'model "missing" not found, try pulling it first'))
    data = await rpc_error(ollama, "dspex/embed", {"provider": "ollama", "inputs": ["x"]})
    assert data["kind"] == "api_error" and "try pulling it first" in data["message"]


async def test_truncated_stream_returns_the_partial_answer_as_interrupted(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.queue(TruncatedStream(text="partial answer that never ends", chunks=2))
    result = await ollama.request("dspex/chat", chat(partialResultToken="t1"))
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["choices"][0]["message"]["content"]
    assert "partial answer".startswith(result["choices"][0]["message"]["content"][:7])
    assert result["error"]["kind"] == "network_error"


async def test_in_band_stream_error_interrupts_the_answer(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.queue(StreamFailure(text="Half an ", message="llama runner process has terminated"))
    result = await ollama.request("dspex/chat", chat(partialResultToken="t2"))
    assert result["choices"][0]["message"]["content"] == "Half an "
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["error"]["kind"] == "api_error"
    assert "runner process" in result["error"]["message"]


async def test_a_slow_answer_times_out(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    fake_ollama.queue(Reply(text="late", delay_s=1.5))
    data = await rpc_error(ollama, "dspex/chat", chat(timeoutMs=300))
    assert data["kind"] == "timeout" and data["retryable"] is True


async def test_malformed_body_is_invalid_response(ollama: Daemon, fake_ollama: FakeOllama) -> None:
    fake_ollama.queue(Garbage())
    data = await rpc_error(ollama, "dspex/chat", chat())
    assert data["kind"] == "invalid_response"


async def test_malformed_stream_line_is_invalid_response(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    fake_ollama.queue(Garbage(body="this is not json\n", content_type="application/x-ndjson"))
    data = await rpc_error(ollama, "dspex/chat", chat(partialResultToken="t3"))
    assert data["kind"] == "invalid_response"


async def test_ollama_is_configured_only_when_a_base_url_is_given(env: dict[str, str]) -> None:
    async with start_daemon(env) as d:
        providers = {p["name"]: p for p in (await d.request("dspex/providers"))["providers"]}
        assert providers["ollama"]["configured"] is False
        data = await rpc_error(d, "dspex/chat", chat())
        assert data["kind"] == "provider_not_configured"
        assert "OLLAMA_BASE_URL" in data["message"]


def chat(content: str = "Why is the sky blue?", **extra: Any) -> dict[str, Any]:
    return user_chat("ollama", content, **extra)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("localhost", "http://localhost:11434"),
        ("http://gpu-box/", "http://gpu-box:11434"),
        ("https://ollama.example.com", "https://ollama.example.com"),
        ("http://proxy.local/ollama", "http://proxy.local/ollama"),
    ],
)
async def test_ollama_host_is_read_as_ollama_reads_it(given: str, expected: str) -> None:
    from dspex_server.providers.ollama import normalise_host

    assert normalise_host(given) == expected


async def test_images_are_sent_as_base64_in_the_message(
    ollama: Daemon, fake_ollama: FakeOllama
) -> None:
    image = {"url": f"data:image/png;base64,{PNG_B64}"}
    await ollama.request("dspex/chat", {"provider": "ollama", "messages": [image_message(image)]})
    assert fake_ollama.requests[-1].body["messages"] == [
        {"role": "user", "content": "What is in this picture?", "images": [PNG_B64]}
    ]


async def test_a_remote_image_url_is_refused(ollama: Daemon) -> None:
    message = image_message({"url": "https://example.com/cat.png"})
    data = await rpc_error(ollama, "dspex/chat", {"provider": "ollama", "messages": [message]})
    assert data["kind"] == "invalid_messages" and "inline" in data["message"]
