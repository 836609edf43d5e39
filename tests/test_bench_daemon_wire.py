"""The daemon's fast paths on the wire (found by bench/, see docs/benchmarks.md): custom
messages skip pygls' Protocol isinstance checks, dict results skip cattrs, and stdout is
coalesced per event-loop iteration. These tests hold the daemon to the same framing and
ordering as before, byte for byte, through a raw stdio client."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from dspex_server.config import Settings
from dspex_server.stdout import CoalescingWriter

CHAT = "dspex/chat"


class RawDaemon:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.frames_seen = 0

    def send(self, method: str, params: Any = None, *, request: bool = True) -> int:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            msg["id"] = self.next_id
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.next_id

    async def read(self) -> dict[str, Any]:
        """One frame; Content-Length must match the body byte for byte."""
        assert self.proc.stdout is not None
        length = None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
            assert line, "the daemon closed stdout"
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        body = await self.proc.stdout.readexactly(length)
        self.frames_seen += 1
        parsed: dict[str, Any] = json.loads(body)  # a short or long length would break this
        return parsed

    async def answer_to(self, msg_id: int) -> dict[str, Any]:
        while True:
            msg = await self.read()
            if msg.get("id") == msg_id and "method" not in msg:
                return msg


@asynccontextmanager
async def raw_daemon(env: dict[str, str]) -> AsyncIterator[RawDaemon]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dspex_server",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 22,
    )
    daemon = RawDaemon(proc)
    try:
        init = daemon.send("initialize", {"processId": None, "capabilities": {}})
        answer = await daemon.answer_to(init)
        assert "dspex" in answer["result"]["capabilities"]["experimental"]
        daemon.send("initialized", {}, request=False)
        yield daemon
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def chat_params(text: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "mock", "messages": [{"role": "user", "content": text}], **extra}


async def test_bench_wire_pipelined_burst_answers_each_request_once(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        ids = {d.send(CHAT, chat_params(f"message {i}")): i for i in range(300)}
        answers: dict[int, str] = {}
        while len(answers) < len(ids):
            msg = await d.read()
            assert msg["id"] not in answers, "answered twice"
            answers[msg["id"]] = msg["result"]["choices"][0]["message"]["content"]
        assert answers == {msg_id: f"message {i}" for msg_id, i in ids.items()}


async def test_bench_wire_non_ascii_answer_has_exact_content_length(env: dict[str, str]) -> None:
    text = "héllo ✓ 日本語 🚀 \u2028 end"
    async with raw_daemon(env) as d:
        answer = await d.answer_to(d.send(CHAT, chat_params(text)))
        assert answer["result"]["choices"][0]["message"]["content"] == text
        assert answer["jsonrpc"] == "2.0"


async def test_bench_wire_partial_results_precede_the_final_answer(env: dict[str, str]) -> None:
    text = "a streamed answer that spans several chunks of eight characters"
    async with raw_daemon(env) as d:
        msg_id = d.send(CHAT, chat_params(text, partialResultToken="tok"))
        deltas: list[str] = []
        while True:
            msg = await d.read()
            if msg.get("method") == "$/progress":
                assert msg["params"]["token"] == "tok"
                deltas.append(msg["params"]["value"]["delta"].get("content") or "")
                continue
            assert msg["id"] == msg_id
            break
        assert "".join(deltas) == text
        assert msg["result"]["choices"][0]["message"]["content"] == text


async def test_bench_wire_errors_keep_their_codes_and_data(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        bad = await d.answer_to(d.send(CHAT, {"messages": "not a list"}))
        assert bad["error"]["code"] == -32602
        assert bad["error"]["data"]["errors"]
        unknown = await d.answer_to(d.send("dspex/no-such-method", {}))
        assert unknown["error"]["code"] == -32601
        ok = await d.answer_to(d.send(CHAT, chat_params("still alive")))
        assert ok["result"]["choices"][0]["message"]["content"] == "still alive"


async def test_bench_wire_shutdown_answer_is_flushed_before_exit(env: dict[str, str]) -> None:
    async with raw_daemon(env) as d:
        pending = d.send(CHAT, chat_params("answered before shutdown"))
        shutdown = d.send("shutdown")
        d.send("exit", request=False)
        seen = {}
        while len(seen) < 2:
            msg = await d.read()
            seen[msg["id"]] = msg
        assert seen[pending]["result"]["choices"][0]["message"]["content"]
        assert seen[shutdown]["result"] is None
        assert await asyncio.wait_for(d.proc.wait(), 20) == 0


class CountingStream(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: Any) -> int:
        self.writes += 1
        return super().write(data)


async def test_bench_coalescing_writer_one_write_per_loop_iteration_in_order() -> None:
    stream = CountingStream()
    writer = CoalescingWriter(stream, asyncio.get_running_loop())
    for i in range(50):
        writer.write(b"%d," % i)
    assert stream.writes == 0
    await asyncio.sleep(0)
    assert stream.writes == 1
    assert stream.getvalue() == b"".join(b"%d," % i for i in range(50))


async def test_bench_coalescing_writer_accepts_writes_from_other_threads() -> None:
    stream = CountingStream()
    writer = CoalescingWriter(stream, asyncio.get_running_loop())
    thread = threading.Thread(target=writer.write, args=(b"from a thread",))
    thread.start()
    thread.join()
    for _ in range(5):
        await asyncio.sleep(0)
    assert stream.getvalue() == b"from a thread"


class BrokenStream(io.BytesIO):
    def write(self, data: Any) -> int:
        raise BrokenPipeError


async def test_bench_coalescing_writer_survives_a_client_that_went_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = CoalescingWriter(BrokenStream(), asyncio.get_running_loop())
    writer.write(b"lost")
    await asyncio.sleep(0)
    writer.write(b"also lost")
    writer.close()
    assert "went away" in caplog.text


class TrickleStream(io.BytesIO):
    """A raw stream (what `sys.stdout.buffer` is under PYTHONUNBUFFERED) that takes at most
    a few bytes per call, and sometimes would block, as a full pipe interrupted by a signal."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, data: Any) -> int:
        self.calls += 1
        if self.calls % 5 == 0:
            raise BlockingIOError(11, "would block", 0)
        return super().write(bytes(data[:7]))


async def test_bench_coalescing_writer_writes_everything_through_partial_writes() -> None:
    # A raw FileIO's write may take only part of the data; the rest must not be dropped
    # (found with py-spy attached under a 10,000-request burst: truncated frames).
    stream = TrickleStream()
    writer = CoalescingWriter(stream, asyncio.get_running_loop())
    frames = [b"Content-Length: 3\r\n\r\n%03d" % i for i in range(40)]
    for frame in frames:
        writer.write(frame)
    await asyncio.sleep(0)
    assert stream.getvalue() == b"".join(frames)
    assert stream.calls > len(frames)


def test_bench_default_provider_settings_are_built_once() -> None:
    settings = Settings()
    assert settings.provider("mock") is settings.provider("mock")
    assert settings.provider("openai") is not settings.provider("mock")
