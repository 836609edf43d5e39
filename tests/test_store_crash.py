"""Acknowledged means durable: every exchange answered before a kill -9 is in the log after
a restart, whether its row was committed already or was only in the daemon's pending-rows
journal (replayed by the next daemon)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from daemon import start_daemon
from rawdaemon import RawDaemon, chat, initialize

IDS = range(1, 25)


async def test_kill_9_right_after_answers_keeps_every_acknowledged_row(
    env: dict[str, str],
) -> None:
    await _kill_after_answers_then_find_every_row(env, None)


async def test_kill_9_before_any_commit_replays_the_journal(env: dict[str, str]) -> None:
    # The writer waits up to 5 s for more rows before it commits: at the kill, the answered
    # rows exist only in the journal, and the next daemon must recover them.
    await _kill_after_answers_then_find_every_row(env, {"store": {"flushIntervalMs": 5000}})
    data = Path(env["XDG_DATA_HOME"]) / "dspex"
    assert not list(data.glob("*.pending-*")), "the replayed journal is removed"


async def _kill_after_answers_then_find_every_row(
    env: dict[str, str], options: dict[str, Any] | None
) -> None:
    raw = await RawDaemon.start(env)
    try:
        await raw.send(
            initialize(0, options), {"jsonrpc": "2.0", "method": "initialized", "params": {}}
        )
        await raw.read_until_id(0)
        # Concurrent requests: their rows share commits (group commit) and all must be there.
        requests = [chat(i, f"crash {i}", provider="mock", correlationId=f"k{i}") for i in IDS]
        await raw.send(*requests)
        answers = await raw.read_answers(set(IDS))
        raw.process.send_signal(signal.SIGKILL)  # no shutdown, no flush, no atexit
        await raw.wait()
    finally:
        raw.kill()
    assert all("result" in a for a in answers.values())
    assert raw.process.returncode == -signal.SIGKILL

    async with start_daemon(env) as d:
        result: dict[str, Any] = await d.request("dspex/logs/query", {"limit": 1000})
    ids = {e["correlationId"] for e in result["entries"]}
    assert ids == {f"k{i}" for i in IDS}
