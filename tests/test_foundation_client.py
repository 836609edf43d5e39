"""The Python client: spawn, typed calls, streaming, typed errors, clean shutdown."""

from __future__ import annotations

import asyncio
import sys

import pytest

from dspex_client import (
    CancelledError,
    DspexClient,
    DspexError,
    InvalidParamsError,
    MethodNotFoundError,
    SyncClient,
)
from dspex_protocol import ChatResult, ErrorKind

SERVER = [sys.executable, "-m", "dspex_server"]


async def test_spawn_chat_and_close_leave_no_process(env: dict[str, str]) -> None:
    client = await DspexClient.spawn(SERVER, env=env)
    assert client.server_info["name"] == "dspex"
    assert "dspex/chat" in client.capabilities["methods"]
    result = await client.chat("typed hello", system="be nice")
    assert isinstance(result, ChatResult)
    assert result.choices[0].message.content == "typed hello"
    await client.close()
    assert client.process is not None
    assert client.process.returncode == 0  # shutdown + exit: a clean exit, no zombie


async def test_context_manager_always_stops_the_daemon(env: dict[str, str]) -> None:
    with pytest.raises(RuntimeError):
        async with await DspexClient.spawn(SERVER, env=env) as client:
            process = client.process
            raise RuntimeError("user code failed")
    assert process is not None and process.returncode is not None


async def test_typed_errors_carry_kind_and_data(env: dict[str, str]) -> None:
    async with await DspexClient.spawn(SERVER, env=env) as client:
        with pytest.raises(DspexError) as err:
            await client.chat("hi", provider="openai")
        assert err.value.kind == ErrorKind.PROVIDER_NOT_CONFIGURED
        assert err.value.error_data is not None
        assert err.value.error_data.provider == "openai"
        with pytest.raises(MethodNotFoundError):
            await client.request("dspex/none", {})
        with pytest.raises(InvalidParamsError) as bad:
            await client.request("dspex/chat", {"messages": "nope"})
        assert bad.value.data["errors"][0]["loc"] == ["messages"]
        assert (await client.chat("still alive")).choices[0].message.content == "still alive"


async def test_stream_yields_deltas_then_the_result(env: dict[str, str]) -> None:
    async with await DspexClient.spawn(SERVER, env=env) as client:
        stream = client.chat_stream("several small pieces of text")
        pieces = [chunk.delta.content async for chunk in stream]
        result = await stream.result()
        assert len(pieces) > 1
        assert "".join(p or "" for p in pieces) == result.choices[0].message.content


async def test_cancelling_a_request_sends_cancel_and_the_daemon_goes_on(
    env: dict[str, str],
) -> None:
    options = {"providers": {"mock": {"latencyMs": 5000}}}
    async with await DspexClient.spawn(SERVER, env=env, initialization_options=options) as c:
        task = asyncio.ensure_future(
            c.request("dspex/chat", {"messages": [{"role": "user", "content": "slow"}]})
        )
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the daemon answered the cancelled request with -32800 and serves the next one
        started = asyncio.get_running_loop().time()
        with pytest.raises(CancelledError):
            raw_id = c.connection.new_id()
            pending = asyncio.ensure_future(
                c.connection.request(
                    "dspex/chat",
                    {"messages": [{"role": "user", "content": "x"}]},
                    request_id=raw_id,
                )
            )
            await asyncio.sleep(0.2)
            c.connection.notify("$/cancelRequest", {"id": raw_id})
            await pending
        assert asyncio.get_running_loop().time() - started < 4


async def test_attach_to_streams_of_a_running_daemon(env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *SERVER, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    client = await DspexClient.attach(process.stdout, process.stdin)
    assert (await client.providers()).default_provider == "mock"
    await client.close()
    assert await asyncio.wait_for(process.wait(), 10) == 0


def test_sync_client_for_scripts(env: dict[str, str]) -> None:
    with SyncClient(SERVER, env=env) as client:
        assert client.chat("sync hi").choices[0].message.content == "sync hi"
        assert client.embed(["a", "b"], provider="mock").dimensions > 0
        assert "openai" in [p.name for p in client.providers().providers]
        with pytest.raises(DspexError) as err:
            client.chat("x", provider="openai")
        assert err.value.kind == "provider_not_configured"
