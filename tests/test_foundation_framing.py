"""Framing, malformed messages and the lifecycle (shutdown, exit, EOF), byte by byte."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from rawdaemon import RawDaemon, chat, initialize


@pytest.fixture
async def raw(env: dict[str, str]) -> AsyncIterator[RawDaemon]:
    d = await RawDaemon.start(env)
    await d.send(initialize())
    await d.read_until_id(1)
    try:
        yield d
    finally:
        d.kill()
        await d.process.wait()


async def test_invalid_json_gets_a_parse_error_and_the_daemon_goes_on(raw: RawDaemon) -> None:
    await raw.send(b"Content-Length: 9\r\n\r\n{not json")
    answer = await raw.read()
    assert answer == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": answer["error"]["message"]},
    }
    await raw.send(chat(2))
    assert (await raw.read_until_id(2))["result"]["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize(
    ("message", "expected_id"),
    [
        ([{"jsonrpc": "2.0", "id": 5, "method": "dspex/providers"}], None),  # a batch
        ({"jsonrpc": "1.0", "id": 6, "method": "dspex/providers"}, 6),
        ({"jsonrpc": "2.0", "id": 7, "method": 42}, 7),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "dspex/providers"}, None),
        ({"jsonrpc": "2.0", "id": 8, "method": "dspex/chat", "params": "text"}, 8),
        ({"jsonrpc": "2.0", "id": 9}, 9),
        ("just a string", None),
    ],
)
async def test_invalid_requests_get_invalid_request(
    raw: RawDaemon, message: object, expected_id: object
) -> None:
    await raw.send(message)
    answer = await raw.read()
    assert answer["error"]["code"] == -32600
    assert answer["id"] == expected_id
    await raw.send(chat(100))
    assert "result" in await raw.read_until_id(100)


async def test_invalid_utf8_body_is_a_parse_error(raw: RawDaemon) -> None:
    body = b'{"jsonrpc":"2.0","id":3,"method":"dspex/chat","params":{"x":"\xff\xfe"}}'
    await raw.send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert (await raw.read())["error"]["code"] == -32700
    await raw.send(chat(4))
    assert "result" in await raw.read_until_id(4)


async def test_missing_content_length_is_reported(raw: RawDaemon) -> None:
    await raw.send_bytes(b"Content-Type: application/json\r\n\r\n")
    assert (await raw.read())["error"]["code"] == -32700
    await raw.send(chat(5))
    assert "result" in await raw.read_until_id(5)


async def test_extra_headers_and_lowercase_names_are_accepted(raw: RawDaemon) -> None:
    body = b'{"jsonrpc":"2.0","id":11,"method":"dspex/providers"}'
    await raw.send_bytes(
        b"content-length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        % len(body)
        + body
    )
    assert "result" in await raw.read_until_id(11)


async def test_deeply_nested_params_get_an_answer(raw: RawDaemon) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    body = (
        '{"jsonrpc":"2.0","id":12,"method":"dspex/chat","params":{"messages":%s}}' % nested
    ).encode()
    await raw.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    answer = await raw.read()
    assert answer["error"]["code"] in (-32700, -32602)
    await raw.send(chat(13))
    assert "result" in await raw.read_until_id(13)


async def test_shutdown_answers_in_flight_requests_then_refuses_new_ones(
    env: dict[str, str],
) -> None:
    options = {"providers": {"mock": {"latencyMs": 300}}}
    d = await RawDaemon.start(env)
    try:
        await d.send(initialize(options=options))
        await d.read_until_id(1)
        await d.send(
            chat(2, "slow"), {"jsonrpc": "2.0", "id": 3, "method": "shutdown"}, chat(4, "too late")
        )
        answers = {}
        while len(answers) < 3:
            message = await d.read()
            answers[message["id"]] = message
        assert answers[2]["result"]["choices"][0]["message"]["content"] == "slow"
        assert answers[3] == {"jsonrpc": "2.0", "id": 3, "result": None}
        assert answers[4]["error"]["code"] == -32600
        await d.send({"jsonrpc": "2.0", "method": "exit"})
        assert await d.wait() == 0
    finally:
        d.kill()


async def test_exit_without_shutdown_exits_with_1(raw: RawDaemon) -> None:
    await raw.send({"jsonrpc": "2.0", "method": "exit"})
    assert await raw.wait() == 1


async def test_eof_answers_what_is_in_flight_and_exits_0(env: dict[str, str]) -> None:
    d = await RawDaemon.start(env)
    await d.send(initialize(), *(chat(i, f"m{i}") for i in range(2, 52)))
    await d.close_stdin()
    seen = set()
    for _ in range(51):
        seen.add((await d.read())["id"])
    assert seen == set(range(1, 52))
    assert await d.wait() == 0


async def test_requests_before_initialize_are_served(env: dict[str, str]) -> None:
    d = await RawDaemon.start(env)
    try:
        await d.send(chat(1, "early"))
        assert (await d.read_until_id(1))["result"]["choices"][0]["message"]["content"] == "early"
    finally:
        d.kill()
        await d.process.wait()


async def test_stdin_from_dev_null_exits_at_once(env: dict[str, str]) -> None:
    import sys

    with open("/dev/null", "rb") as devnull:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dspex_server",
            stdin=devnull,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert out == b""
