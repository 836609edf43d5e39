"""Helpers for the provider tests: chat through the daemon, streamed or not, and errors."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from daemon import Daemon
from fakes.base import FakeProvider, Garbage, TruncatedStream
from pygls.exceptions import JsonRpcException

from dspex_server.config import ConfigStore
from dspex_server.providers.base import ModelListing
from dspex_server.providers.registry import AdapterRegistry

_tokens = itertools.count(1)

USER_HI = [{"role": "user", "content": "Say hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}
WEATHER_CALL = {"id": "toolu_01Weather", "name": "get_weather", "arguments": {"city": "Paris"}}


async def chat(d: Daemon, provider: str, **params: Any) -> Any:
    params.setdefault("messages", USER_HI)
    return await d.request("dspex/chat", {"provider": provider, **params})


async def stream_chat(d: Daemon, provider: str, **params: Any) -> tuple[Any, list[Any]]:
    """(final result, the `$/progress` values sent on the request's partialResultToken)."""
    token = f"stream-{next(_tokens)}"
    result = await chat(d, provider, partialResultToken=token, **params)
    return result, d.partials[token]


def streamed_text(partials: list[Any]) -> str:
    return "".join(p["delta"].get("content") or "" for p in partials)


def streamed_tool_fragments(partials: list[Any]) -> list[dict[str, Any]]:
    return [frag for p in partials for frag in p["delta"].get("toolCalls") or ()]


async def chat_error(d: Daemon, provider: str, **params: Any) -> dict[str, Any]:
    """The `data` of the JSON-RPC error a chat request ends with."""
    with pytest.raises(JsonRpcException) as info:
        await chat(d, provider, **params)
    data = info.value.data
    assert isinstance(data, dict), info.value
    return data


async def embed_error(d: Daemon, **params: Any) -> dict[str, Any]:
    with pytest.raises(JsonRpcException) as info:
        await d.request("dspex/embed", params)
    data = info.value.data
    assert isinstance(data, dict), info.value
    return data


# Checks every wire format must pass; each adapter's test module calls them with its fake.


async def check_truncated_stream_is_interrupted(
    d: Daemon, fake: FakeProvider, provider: str
) -> None:
    """A stream cut after some text returns that text, finishReason interrupted, and why."""
    fake.queue(TruncatedStream(text="partial answer that never ends", chunks=2))
    result, partials = await stream_chat(d, provider)
    assert result["choices"][0]["finishReason"] == "interrupted"
    assert result["choices"][0]["message"]["content"] == streamed_text(partials) != ""
    assert result["error"]["kind"] == "network_error"


async def check_cut_before_text_is_network_error(
    d: Daemon, fake: FakeProvider, provider: str
) -> None:
    fake.queue(TruncatedStream(chunks=0))
    token = f"cut-{next(_tokens)}"
    with pytest.raises(JsonRpcException) as info:
        await chat(d, provider, partialResultToken=token)
    assert info.value.data["kind"] == "network_error"
    assert d.partials[token] == []


async def check_malformed_bodies_are_invalid_responses(
    d: Daemon, fake: FakeProvider, provider: str, wrong_shape: str
) -> None:
    """Not JSON at all, and JSON that lacks what the format promises."""
    fake.queue(Garbage())
    assert (await chat_error(d, provider))["kind"] == "invalid_response"
    fake.queue(Garbage(body=wrong_shape, content_type="application/json"))
    assert (await chat_error(d, provider))["kind"] == "invalid_response"
    # A streamed request answered by a proxy's HTML page: no event stream at all.
    fake.queue(Garbage())
    data = await chat_error(d, provider, partialResultToken=f"garbage-{next(_tokens)}")
    assert data["kind"] == "invalid_response"


async def list_models_of(env: dict[str, str], provider: str) -> list[ModelListing]:
    """An adapter's live model list, in-process (no JSON-RPC method is this area's)."""
    registry = AdapterRegistry(ConfigStore(env))
    try:
        return await (await registry.get(provider)).list_models()
    finally:
        await registry.aclose()
