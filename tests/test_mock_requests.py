"""`dspex/mock/requests`: the mock provider tells what it was asked, so that tests written
against the mock can check the requests their code sent."""

from __future__ import annotations

import pytest
from daemon import Daemon
from provider_checks import stream_chat
from pygls.exceptions import JsonRpcException

WEATHER = {
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


async def test_chat_and_embed_requests_are_captured_in_order(daemon: Daemon) -> None:
    await daemon.request(
        "dspex/chat",
        {
            "provider": "mock",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
            "temperature": 0.2,
            "maxTokens": 50,
            "stop": ["\n"],
            "tools": [WEATHER],
            "toolChoice": {"name": "get_weather"},
        },
    )
    await stream_chat(daemon, "mock", messages=[{"role": "user", "content": "streamed"}])
    await daemon.request("dspex/embed", {"provider": "mock", "inputs": ["a", "b"]})
    result = await daemon.request("dspex/mock/requests", {})
    assert result["total"] == 3
    first, second, third = result["requests"]
    assert first["method"] == "chat" and first["streamed"] is False
    assert [m["content"] for m in first["messages"]] == ["Be brief.", "hi"]
    assert first["temperature"] == 0.2 and first["maxTokens"] == 50
    assert first["stop"] == ["\n"]
    assert first["tools"][0]["name"] == "get_weather"
    assert first["toolChoice"] == {"name": "get_weather"}
    assert first["model"] == "mock-1"
    assert second["streamed"] is True
    assert second["messages"][0]["content"] == "streamed"
    assert third["method"] == "embed" and third["inputs"] == ["a", "b"]
    assert first["receivedAt"] <= second["receivedAt"] <= third["receivedAt"]


async def test_limit_gives_the_newest_and_clear_forgets(daemon: Daemon) -> None:
    for i in range(5):
        await daemon.request(
            "dspex/chat", {"provider": "mock", "messages": [{"role": "user", "content": f"m{i}"}]}
        )
    newest = await daemon.request("dspex/mock/requests", {"limit": 2, "clear": True})
    assert [r["messages"][0]["content"] for r in newest["requests"]] == ["m3", "m4"]
    assert newest["total"] == 5
    after = await daemon.request("dspex/mock/requests", {})
    assert after == {"requests": [], "total": 0}


async def test_a_predict_request_shows_its_response_format(daemon: Daemon) -> None:
    await daemon.request(
        "dspex/predict",
        {
            "signature": "text -> label: int",
            "inputs": {"text": "x"},
            "provider": "mock",
            "mode": "structured",
        },
    )
    (request,) = (await daemon.request("dspex/mock/requests", {}))["requests"]
    # The mock has JSON mode (no native schemas): predict asks for json_object and shows
    # the schema in the system prompt, which is what a user's test can check.
    assert request["responseFormat"]["type"] == "json_object"
    system = request["messages"][0]
    assert system["role"] == "system" and '"label"' in system["content"]


async def test_bad_params_are_refused(daemon: Daemon) -> None:

    with pytest.raises(JsonRpcException) as info:
        await daemon.request("dspex/mock/requests", {"limit": 0})
    assert info.value.code == -32602
