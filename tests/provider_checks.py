"""Helpers for the provider tests: chat through the daemon, streamed or not, and errors."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from daemon import Daemon
from pygls.exceptions import JsonRpcException

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
