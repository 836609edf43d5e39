"""Drive the daemon with raw LSP frames (for framing, lifecycle and fuzz tests)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any


def frame(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawDaemon:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._stderr = bytearray()
        # Drain stderr all along: a full pipe would block the daemon's logging.
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self._stderr += chunk

    @classmethod
    async def start(cls, env: dict[str, str]) -> RawDaemon:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dspex_server",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            limit=1 << 24,
        )
        return cls(process)

    async def send(self, *messages: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(
            b"".join(
                m if isinstance(m, bytes) and m.startswith(b"Content") else frame(m)
                for m in messages
            )
        )
        await self.process.stdin.drain()

    async def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def read(self, timeout: float = 60.0) -> Any:
        return await asyncio.wait_for(self._read(), timeout)

    async def _read(self) -> Any:
        assert self.process.stdout is not None
        length = None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise EOFError("daemon closed stdout")
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length is not None
        return json.loads(await self.process.stdout.readexactly(length))

    async def read_until_id(self, msg_id: Any, timeout: float = 60.0) -> Any:
        while True:
            message = await self.read(timeout)
            if message.get("id") == msg_id and "method" not in message:
                return message

    async def read_answers(self, ids: set[Any], timeout: float = 60.0) -> dict[Any, Any]:
        """The answers to `ids`, in whatever order they come (notifications skipped)."""
        answers: dict[Any, Any] = {}
        while set(answers) != ids:
            message = await self.read(timeout)
            if "method" not in message and message.get("id") in ids:
                answers[message["id"]] = message
        return answers

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    async def wait(self, timeout: float = 60.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def stderr(self) -> str:
        """Everything the daemon wrote to stderr (complete once it has exited)."""
        if self.process.returncode is not None:
            await self._stderr_task
        return self._stderr.decode("utf-8", "replace")

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def initialize(msg_id: int = 1, options: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"processId": None, "capabilities": {}}
    if options is not None:
        params["initializationOptions"] = options
    return {"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": params}


def chat(msg_id: Any, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": msg_id,
        "method": "dspex/chat",
        "params": {"messages": [{"role": "user", "content": text}], **extra},
    }
