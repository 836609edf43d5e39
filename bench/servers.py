"""The stdio servers the scenarios spawn: the dspex daemon and the pygls echo peers."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import DAEMON_CMD, daemon_env
from .lsp_client import LspClient

ECHO_SERVER = str(Path(__file__).resolve().parent / "echo_server.py")
CHAT_PARAMS: dict[str, Any] = {
    "provider": "mock",
    "messages": [{"role": "user", "content": "Say hello."}],
}


@dataclass(frozen=True)
class Server:
    """A server to spawn and the request that exercises it."""

    label: str
    cmd: tuple[str, ...]
    method: str
    params: Mapping[str, Any]
    env: Mapping[str, str] | None = None
    options: Any = None


def dspex_chat(env: Mapping[str, str] | None = None, options: Any = None) -> Server:
    return Server(
        "dspex dspex/chat (mock)",
        DAEMON_CMD,
        "dspex/chat",
        CHAT_PARAMS,
        env or daemon_env(),
        options,
    )


def echo(tuned: bool) -> Server:
    cmd = (sys.executable, ECHO_SERVER, *(["--tuned"] if tuned else []))
    label = "pygls echo, tuned (dict params + asyncio stdin)" if tuned else "pygls echo, defaults"
    return Server(label, cmd, "bench/echo", CHAT_PARAMS)


@asynccontextmanager
async def running(server: Server) -> AsyncIterator[LspClient]:
    """A started, initialised server; closed (EOF, then kill) on exit."""
    client = LspClient()
    await client.start(server.cmd, server.env)
    try:
        await client.initialize(server.options)
        yield client
    finally:
        await client.close()
