"""The daemon over raw stdio: frames written and read by hand (asyncio subprocess), so that
tests can send malformed bytes, count every answer per id, cancel by id, watch memory and
keep every byte the daemon wrote for secret scans."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message).encode())


class RawDaemon:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.answers: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.null_id_errors: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self._waiters: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1_000_000)
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.returncode is None

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    async def _read_stdout(self) -> None:
        reader = self.proc.stdout
        assert reader is not None
        while True:
            length = None
            while True:
                line = await reader.readline()
                if not line:
                    return
                self.stdout += line
                if line == b"\r\n":
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            assert length is not None, "the daemon wrote a frame without Content-Length"
            body = await reader.readexactly(length)
            self.stdout += body
            self._route(json.loads(body))

    def _route(self, msg: dict[str, Any]) -> None:
        if "method" in msg:
            if "id" in msg:
                self.server_requests.append(msg)
                # Answer server→client requests (e.g. workspace/configuration) with null.
                self.write(encode({"jsonrpc": "2.0", "id": msg["id"], "result": None}))
            else:
                self.notifications.append(msg)
            return
        msg_id = msg.get("id")
        if msg_id is None:
            self.null_id_errors.append(msg)
            return
        self.answers[msg_id].append(msg)
        waiter = self._waiters.pop(msg_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(msg)

    async def _read_stderr(self) -> None:
        reader = self.proc.stderr
        assert reader is not None
        while chunk := await reader.read(65536):
            self.stderr += chunk

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)

    async def drain(self) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.drain()

    def next_id(self) -> int:
        return next(self._ids)

    def send_request(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        """Write a request; returns its id (answer later with `answer(id)`)."""
        msg_id = self.next_id() if msg_id is None else msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self._waiters.setdefault(msg_id, asyncio.get_running_loop().create_future())
        self.write(encode(message))
        return msg_id

    async def answer(self, msg_id: Any, wait_s: float = 10.0) -> dict[str, Any]:
        if self.answers.get(msg_id):
            return self.answers[msg_id][0]
        waiter = self._waiters.setdefault(msg_id, asyncio.get_running_loop().create_future())
        return await asyncio.wait_for(asyncio.shield(waiter), wait_s)

    async def request(self, method: str, params: Any = None, wait_s: float = 10.0) -> Any:
        msg_id = self.send_request(method, params)
        await self.drain()
        return await self.answer(msg_id, wait_s)

    async def result(self, method: str, params: Any = None, wait_s: float = 10.0) -> Any:
        answer = await self.request(method, params, wait_s)
        assert "result" in answer, answer
        return answer["result"]

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.write(encode(message))

    def cancel(self, msg_id: Any) -> None:
        self.notify("$/cancelRequest", {"id": msg_id})

    async def initialize(self, options: Any = None) -> Any:
        result = await self.result(
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

    async def close(self, wait_s: float = 15.0) -> int:
        if self.alive():
            try:
                await self.request("shutdown", wait_s=wait_s)
                self.notify("exit")
                await self.drain()
            except (ConnectionError, TimeoutError):
                pass
        try:
            code = await asyncio.wait_for(self.proc.wait(), wait_s)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 5)
            except (TimeoutError, asyncio.IncompleteReadError):
                task.cancel()
        return code


@asynccontextmanager
async def raw_daemon(
    env: dict[str, str], options: Any = None, initialize: bool = True
) -> AsyncIterator[RawDaemon]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dspex_server",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        limit=1 << 24,
    )
    daemon = RawDaemon(proc)
    try:
        if initialize:
            await daemon.initialize(options)
        yield daemon
    finally:
        await daemon.close()
