"""Stream faults beyond the per-format matrix (test_reliability_faults_formats.py): the idle
timeout from the config, a stall rescued by resume, malformed events in telemetry, and the
Python client, whose iteration of a truncated stream must not look like success."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fakes.base import MalformedEvent, Stall, TruncatedStream
from fakes.openai_server import FakeOpenAI
from raw_daemon import raw_daemon
from reliability_support import chat_params, eventually, openai_env, options

from dspex_client import DspexClient, StreamInterruptedError

SERVER = [sys.executable, "-m", "dspex_server"]
TEXT = "one two three four five six"


def openai_options(**provider: Any) -> dict[str, Any]:
    return options(providers={"openai": {"timeoutMs": 2000, **provider}})


async def test_idle_timeout_from_the_provider_config_cuts_a_stall(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = openai_options(streamIdleTimeoutMs=250)
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(Stall(text=TEXT, chunks=2, stall_s=5.0))
        result = await d.result("dspex/chat", chat_params(provider="openai", partialResultToken=1))
        assert result["choices"][0]["finishReason"] == "interrupted"
        assert result["error"]["kind"] == "timeout"
        assert result["error"]["details"]["streamIdleTimeoutMs"] == 250
        # The request's own value wins over the config's.
        fake_openai.queue(Stall(text=TEXT, chunks=2, stall_s=0.5))
        params = chat_params(provider="openai", partialResultToken=2, streamIdleTimeoutMs=2000)
        result = await d.result("dspex/chat", params)
        assert result["choices"][0]["message"]["content"] == TEXT
        assert result["choices"][0]["finishReason"] == "stop"


async def test_a_stall_is_resumed_where_the_provider_takes_a_prefill(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = openai_options(streamIdleTimeoutMs=250, assistantPrefill=True)
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(Stall(text=TEXT, chunks=2, stall_s=5.0))
        result = await d.result("dspex/chat", chat_params(provider="openai", partialResultToken=3))
        assert len(fake_openai.requests) == 2
        prefix = fake_openai.requests[1].body["messages"][-1]
        assert prefix == {"role": "assistant", "content": "one two th"}
        assert result["choices"][0]["finishReason"] == "stop"
        assert result["choices"][0]["message"]["content"].startswith("one two th")
        assert "error" not in result


async def test_malformed_events_are_counted_in_telemetry(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options(telemetry=True)) as d:
        fake_openai.queue(MalformedEvent(text=TEXT, at=3))
        result = await d.result("dspex/chat", chat_params(provider="openai", partialResultToken=4))
        assert result["choices"][0]["message"]["content"] == TEXT

        def stops() -> list[dict[str, Any]]:
            return [
                n["params"]
                for n in d.notifications
                if n["method"] == "dspex/telemetry" and n["params"]["phase"] == "stop"
            ]

        await eventually(stops)
        assert stops()[-1]["malformedEvents"] == 1
        assert stops()[-1]["success"] is True


@pytest.fixture
def client_env(env: dict[str, str], fake_openai: FakeOpenAI) -> dict[str, str]:
    return openai_env(env, fake_openai)


async def test_client_iteration_of_a_truncated_stream_raises(
    client_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(TruncatedStream(text="partial answer that never ends", chunks=2))
    async with await DspexClient.spawn(
        SERVER, env=client_env, initialization_options=openai_options()
    ) as client:
        stream = client.chat_stream("hello", provider="openai")
        chunks = []
        with pytest.raises(StreamInterruptedError) as info:
            async for chunk in stream:
                chunks.append(chunk)
        assert chunks[-1].finish_reason == "interrupted"
        text = "".join(c.delta.content or "" for c in chunks)
        assert text and "partial answer that never ends".startswith(text)
        assert info.value.kind == "network_error"
        assert info.value.result.choices[0].message.content == text
        # result() hands the partial answer over without raising.
        result = await stream.result()
        assert result.choices[0].finish_reason == "interrupted"


async def test_client_iteration_of_a_whole_stream_does_not_raise(
    client_env: dict[str, str],
) -> None:
    async with await DspexClient.spawn(
        SERVER, env=client_env, initialization_options=openai_options()
    ) as client:
        stream = client.chat_stream("a whole answer", provider="openai")
        text = "".join([c.delta.content or "" async for c in stream])
        assert text == "a whole answer"
        assert (await stream.result()).choices[0].finish_reason == "stop"
