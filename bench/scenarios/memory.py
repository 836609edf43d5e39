"""Memory: idle RSS after `initialize`, and RSS growth over many mock requests."""

from __future__ import annotations

import asyncio
from typing import Any

from ..common import Row, ScenarioResult, proc_rss_mb
from ..config import RunConfig
from ..lsp_client import run_window
from ..servers import Server, dspex_chat, echo, running

NAME = "memory"
TITLE = "Memory: idle RSS and growth under load"
WINDOW = 64
IDLE_S = 1.0


async def measure(server: Server, cfg: RunConfig) -> dict[str, float]:
    async with running(server) as client:

        def params(_: int) -> Any:
            return server.params

        await asyncio.sleep(IDLE_S)
        idle = proc_rss_mb(client.pid)
        # Warm up first: allocator arenas, caches and ring buffers reach their size.
        await run_window(client, server.method, params, cfg.memory_warmup, WINDOW)
        before = proc_rss_mb(client.pid)
        await run_window(client, server.method, params, cfg.memory_requests, WINDOW)
        after = proc_rss_mb(client.pid)
    return {
        "idle_rss_mb": round(idle, 1),
        "rss_after_warmup_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "growth_mb": round(after - before, 2),
    }


async def run(cfg: RunConfig) -> ScenarioResult:
    result = ScenarioResult(
        NAME,
        TITLE,
        ["idle_rss_mb", "rss_after_warmup_mb", "rss_after_mb", "growth_mb"],
        params={"requests": cfg.memory_requests, "warmup": cfg.memory_warmup, "window": WINDOW},
    )
    dspex = dspex_chat()
    for server in (dspex, echo(tuned=True)):
        values = await asyncio.wait_for(measure(server, cfg), cfg.timeout_s)
        result.rows.append(Row(f"{cfg.memory_requests:,} requests", server.label, values))
    growth = result.rows[0].values["growth_mb"]
    result.goal(
        f"RSS growth over {cfg.memory_requests:,} mock requests (MB)",
        growth,
        "<= 5 MB",
        growth <= 5,
    )
    return result
