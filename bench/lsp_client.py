"""A minimal JSON-RPC client over a subprocess's pipes, built so that it is never the
bottleneck: raw Content-Length frames, integer ids, one buffer parsed in `pipe_data_received`
(no StreamReader, no per-line awaits), orjson when it is installed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

try:
    import orjson

    _dumps: Callable[[Any], bytes] = orjson.dumps
    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the bench extra

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()

    _loads = json.loads


class RpcError(Exception):
    def __init__(self, error: Mapping[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = int(error.get("code", 0))
        self.error = error


class _Protocol(asyncio.SubprocessProtocol):
    def __init__(self, client: LspClient) -> None:
        self.client = client
        self.buffer = bytearray()
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd != 1:
            return
        buf = self.buffer
        buf += data
        on_message = self.client.on_message
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            length = -1
            for line in bytes(buf[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            start = end + 4
            if length < 0 or len(buf) < start + length:
                return
            body = bytes(buf[start : start + length])
            del buf[: start + length]
            on_message(_loads(body))

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)
        self.client.fail_pending(ConnectionError("the server exited"))


class LspClient:
    """Spawn a JSON-RPC server and talk to it; `request` returns a future."""

    def __init__(self) -> None:
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.notifications = 0
        self.on_notification: Callable[[dict[str, Any]], None] | None = None
        self.spawned_at = 0.0
        self._transport: asyncio.SubprocessTransport | None = None
        self._protocol: _Protocol | None = None
        self._stdin: asyncio.WriteTransport | None = None

    @property
    def pid(self) -> int:
        assert self._transport is not None
        return self._transport.get_pid()

    async def start(self, cmd: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.spawned_at = time.perf_counter()
        self._transport, self._protocol = await loop.subprocess_exec(
            lambda: _Protocol(self),
            *cmd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
        )
        stdin = self._transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        stdin.set_write_buffer_limits(high=1 << 24)
        self._stdin = stdin

    def on_message(self, msg: dict[str, Any]) -> None:
        msg_id = msg.get("id")
        if msg_id is None and "error" in msg:
            # An error the server could not tie to a request (e.g. a frame over its size
            # limit): fail what is pending rather than wait for an answer that never comes.
            self.fail_pending(RpcError(msg["error"]))
            return
        if msg_id is None or "method" in msg:
            self.notifications += 1
            if self.on_notification is not None:
                self.on_notification(msg)
            if "method" in msg and msg_id is not None:  # a request from the server: refuse
                self._write({"jsonrpc": "2.0", "id": msg_id, "result": None})
            return
        fut = self.pending.pop(msg_id, None)
        if fut is None or fut.done():
            return
        if "error" in msg:
            fut.set_exception(RpcError(msg["error"]))
        else:
            fut.set_result(msg.get("result"))

    def fail_pending(self, exc: BaseException) -> None:
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(exc)
        self.pending.clear()

    def _write(self, obj: Mapping[str, Any]) -> None:
        assert self._stdin is not None
        body = _dumps(obj)
        self._stdin.write(b"Content-Length: %d\r\n\r\n%b" % (len(body), body))

    def request(self, method: str, params: Any = None) -> asyncio.Future[Any]:
        self.next_id += 1
        msg_id = self.next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[msg_id] = fut
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return fut

    def notify(self, method: str, params: Any = None) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    async def initialize(self, options: Any = None) -> Any:
        result = await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": None,
                "capabilities": {},
                "initializationOptions": options,
            },
        )
        self.notify("initialized", {})
        return result

    async def close(self, timeout_s: float = 10.0) -> None:
        """EOF on stdin (every server here exits on it), then kill if it lingers."""
        if self._transport is None:
            return
        assert self._protocol is not None
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._protocol.exited), timeout_s)
        except TimeoutError:
            self._transport.kill()
            await self._protocol.exited
        self._transport.close()
        self._transport = None


async def run_sequential(
    client: LspClient, method: str, make_params: Callable[[int], Any], count: int
) -> list[float]:
    """`count` awaited round trips, one at a time; latencies in seconds."""
    latencies = []
    clock = time.perf_counter
    for i in range(count):
        started = clock()
        await client.request(method, make_params(i))
        latencies.append(clock() - started)
    return latencies


async def run_window(
    client: LspClient, method: str, make_params: Callable[[int], Any], count: int, window: int
) -> tuple[float, list[float]]:
    """`count` requests with at most `window` in flight; (wall seconds, latencies)."""
    latencies: list[float] = []
    clock = time.perf_counter
    sem = asyncio.Semaphore(window)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    remaining = count

    def finish(started: float, fut: asyncio.Future[Any]) -> None:
        nonlocal remaining
        sem.release()
        if fut.exception() is not None and not done.done():
            done.set_exception(fut.exception())  # type: ignore[arg-type]
            return
        latencies.append(clock() - started)
        remaining -= 1
        if remaining == 0 and not done.done():
            done.set_result(None)

    t0 = clock()
    for i in range(count):
        await sem.acquire()
        started = clock()
        client.request(method, make_params(i)).add_done_callback(partial(finish, started))
    await done
    return clock() - t0, latencies
