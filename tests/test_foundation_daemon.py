"""The daemon end to end over stdio: lifecycle, chat on the mock, the error model."""

from __future__ import annotations

import pytest
from daemon import Daemon, start_daemon
from pygls.exceptions import JsonRpcException

USER_HI = [{"role": "user", "content": "hi"}]


async def test_initialize_advertises_dspex_capabilities(daemon: Daemon) -> None:
    caps = daemon.initialize_result.capabilities.experimental["dspex"]
    assert caps["protocolVersion"] == "1.0"
    assert "dspex/chat" in caps["methods"]
    assert {"openai", "mock"} <= set(caps["providers"])
    assert daemon.initialize_result.server_info.name == "dspex"


async def test_chat_without_configured_provider_falls_back_to_mock_and_says_so(
    daemon: Daemon,
) -> None:
    result = await daemon.request("dspex/chat", {"messages": USER_HI})
    assert result["provider"] == "mock"
    assert result["notices"] and "mock" in result["notices"][0]
    assert result["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finishReason": "stop"}
    ]
    usage = result["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"] > 0
    assert result["correlationId"] and result["latencyMs"] >= 0


async def test_chat_keeps_the_client_correlation_id(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/chat", {"messages": USER_HI, "correlationId": "abc-123", "provider": "mock"}
    )
    assert result["correlationId"] == "abc-123"
    assert "notices" not in result  # the provider was named: no fallback happened


async def test_invalid_params_name_the_field(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request(
            "dspex/chat", {"messages": [{"role": "wizard", "content": "x"}], "temperature": 9}
        )
    assert err.value.code == -32602
    locs = {tuple(e["loc"]) for e in err.value.data["errors"]}
    assert ("temperature",) in locs
    assert any(loc[:2] == ("messages", 0) for loc in locs)
    assert err.value.data["method"] == "dspex/chat"


async def test_unknown_field_is_rejected(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/chat", {"messages": USER_HI, "temprature": 0.5})
    assert err.value.code == -32602
    assert err.value.data["errors"][0]["loc"] == ["temprature"]


async def test_unknown_method_is_method_not_found(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/nonexistent", {})
    assert err.value.code == -32601


async def test_unconfigured_provider_is_provider_not_configured(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/chat", {"messages": USER_HI, "provider": "openai"})
    assert err.value.code == -32008
    data = err.value.data
    assert data["kind"] == "provider_not_configured"
    assert data["provider"] == "openai"
    assert "OPENAI_API_KEY" in data["message"]
    assert data["correlationId"]


async def test_unknown_provider_is_unsupported_provider(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/chat", {"messages": USER_HI, "provider": "nope"})
    assert err.value.data["kind"] == "unsupported_provider"


async def test_daemon_keeps_answering_after_every_kind_of_failure(daemon: Daemon) -> None:
    failing = [
        ("dspex/chat", {"messages": []}),
        ("dspex/chat", {"messages": USER_HI, "provider": "openai"}),
        ("dspex/nope", None),
        ("dspex/chat", [1, 2]),
    ]
    for method, params in failing:
        with pytest.raises(JsonRpcException):
            await daemon.request(method, params)
        ok = await daemon.request("dspex/chat", {"messages": USER_HI})
        assert ok["choices"][0]["message"]["content"] == "hi"


async def test_one_thousand_sequential_chats_are_all_answered(daemon: Daemon) -> None:
    for i in range(1000):
        result = await daemon.request(
            "dspex/chat", {"messages": [{"role": "user", "content": f"n{i}"}]}
        )
        assert result["choices"][0]["message"]["content"] == f"n{i}"


async def test_streamed_chat_sends_deltas_then_the_full_result(daemon: Daemon) -> None:
    text = "a streamed answer from the mock provider"
    result = await daemon.request(
        "dspex/chat",
        {"messages": [{"role": "user", "content": text}], "partialResultToken": "tok-1"},
    )
    chunks = daemon.partials["tok-1"]
    assert len(chunks) > 1
    assert "".join(c["delta"]["content"] for c in chunks) == text
    assert {c["correlationId"] for c in chunks} == {result["correlationId"]}
    assert result["choices"][0]["message"]["content"] == text
    assert result["usage"]["completionTokens"] > 0


async def test_injected_mock_errors_map_to_their_kinds(env: dict[str, str]) -> None:
    options = {
        "providers": {
            "mock": {
                "errors": [
                    {"kind": "rate_limited", "times": 1, "status": 429, "retryAfterMs": 1500},
                ]
            }
        },
        "retry": {"attempts": 1},  # the error itself, not the retry policy, is under test
    }
    async with start_daemon(env, initialization_options=options) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/chat", {"messages": USER_HI})
        assert err.value.code == -32006
        assert err.value.data["kind"] == "rate_limited"
        assert err.value.data["retryAfterMs"] == 1500
        assert err.value.data["retryable"] is True
        # `times: 1`: the next request succeeds
        assert (await d.request("dspex/chat", {"messages": USER_HI}))["provider"] == "mock"


async def test_mock_cycle_replies_round_robin(env: dict[str, str]) -> None:
    options = {"providers": {"mock": {"mode": "cycle", "replies": ["one", "two"]}}}
    async with start_daemon(env, initialization_options=options) as d:
        answers = [
            (await d.request("dspex/chat", {"messages": USER_HI}))["choices"][0]["message"][
                "content"
            ]
            for _ in range(3)
        ]
    assert answers == ["one", "two", "one"]


async def test_providers_lists_configuration_and_default(daemon: Daemon) -> None:
    result = await daemon.request("dspex/providers", {})
    by_name = {p["name"]: p for p in result["providers"]}
    assert by_name["openai"]["configured"] is False
    assert by_name["openai"]["wireFormat"] == "openai_compat"
    assert by_name["mock"]["configured"] is True
    assert result["defaultProvider"] == "mock"


async def test_requests_without_params_are_accepted(daemon: Daemon) -> None:
    result = await daemon.request("dspex/providers", None)
    assert result["providers"]
