"""What the provider test modules share: a tool definition, chat params, error capture."""

from __future__ import annotations

from typing import Any

import pytest
from daemon import Daemon
from pygls.exceptions import JsonRpcException

WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def user_chat(provider: str, content: str = "Why is the sky blue?", **extra: Any) -> dict[str, Any]:
    """`dspex/chat` params: one user message to `provider`, plus any other params."""
    return {"provider": provider, "messages": [{"role": "user", "content": content}], **extra}


async def rpc_error(d: Daemon, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The `data` of the JSON-RPC error that `method` must answer with."""
    with pytest.raises(JsonRpcException) as info:
        await d.request(method, params)
    data: dict[str, Any] = info.value.data  # type: ignore[attr-defined]
    return data


# A 1x1 transparent PNG.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def image_message(image: dict[str, Any], text: str = "What is in this picture?") -> dict[str, Any]:
    """A user message with a text part and one image part."""
    return {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image", **image}]}
