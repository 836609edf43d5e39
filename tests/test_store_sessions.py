"""Sessions persist in the store: a daemon killed right after answering a turn comes back
with the session, continues it with its history, and forgets it once ended."""

from __future__ import annotations

import signal
from typing import Any

from daemon import Daemon, start_daemon
from rawdaemon import RawDaemon, initialize
from store_support import raw_bytes


def request(msg_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}


async def sessions(d: Daemon) -> dict[str, int]:
    result = await d.request("dspex/session/list", {})
    return {s["sessionId"]: s["messageCount"] for s in result["sessions"]}


async def test_a_session_continues_after_kill_9_and_restart(env: dict[str, str]) -> None:
    raw = await RawDaemon.start(env)
    try:
        await raw.send(initialize(0), {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        await raw.read_until_id(0)
        await raw.send(
            request(
                1,
                "dspex/session/start",
                {"sessionId": "trip", "provider": "mock", "system": "be brief"},
            )
        )
        assert "result" in await raw.read_until_id(1)
        await raw.send(request(2, "dspex/session/chat", {"sessionId": "trip", "content": "Lima?"}))
        answer = await raw.read_until_id(2)
        raw.process.send_signal(signal.SIGKILL)
        await raw.wait()
    finally:
        raw.kill()
    assert "result" in answer, answer

    async with start_daemon(env) as d:
        assert await sessions(d) == {"trip": 2}
        await d.request("dspex/session/chat", {"sessionId": "trip", "content": "and Cusco?"})
        history = await d.request("dspex/session/history", {"sessionId": "trip"})
        contents = [m["content"] for m in history["messages"]]
        assert contents[0] == "Lima?" and contents[2] == "and Cusco?" and len(contents) == 4
        # The continued turn was sent with the restored history and system prompt.
        logged = await d.request("dspex/logs/query", {"sessionId": "trip", "limit": 1})
        sent = [m["content"] for m in logged["entries"][0]["request"]["messages"]]
        assert sent[:2] == ["be brief", "Lima?"] and sent[-1] == "and Cusco?"

    async with start_daemon(env) as d:
        assert await sessions(d) == {"trip": 4}
        await d.request("dspex/session/end", {"sessionId": "trip"})
    async with start_daemon(env) as d:
        assert await sessions(d) == {}


async def test_stored_sessions_hold_no_secret(env: dict[str, str]) -> None:
    secret = "sk-session-secret-5e6f7a8b9c0d1e2f"
    env = {**env, "OPENAI_API_KEY": secret}  # known to the daemon, never used (mock)
    async with start_daemon(env) as d:
        await d.request("dspex/session/start", {"sessionId": "s", "provider": "mock"})
        await d.request("dspex/session/chat", {"sessionId": "s", "content": f"key {secret}"})
        assert await sessions(d) == {"s": 2}
    data = raw_bytes(env)
    assert b"key <redacted>" in data
    assert secret.encode() not in data
