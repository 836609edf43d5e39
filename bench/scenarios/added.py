"""Added latency: one request at a time to the loopback fake OpenAI server, directly from this
process (aiohttp, httpx) and through the dspex daemon (client → stdio → daemon → fake), in
interleaved rounds; the figure is dspex's latency minus the direct call's, at p50 and p99
(what gateway benchmarks publish as "added latency")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from ..common import Row, ScenarioResult, latency_summary, proc_cpu_precise_s, progress
from ..config import RunConfig
from ..direct import AiohttpDirect, HttpxDirect
from ..fake_process import fake_openai
from .proxy import EXPECTED, daemon

NAME = "added"
TITLE = "Added latency over a direct call (sequential, loopback fake OpenAI)"
WARMUP = 200
DSPEX = "dspex daemon (aiohttp), client → stdio → daemon → fake"
# Published figures (same kind of harness, loopback, 1.6 ms direct call): for the notes.
PUBLISHED = "Bifrost 0.44 ms, Portkey 2.37 ms, LiteLLM 4.34 ms (published, their harness)"


async def _timed(one: Callable[[int], Awaitable[Any]], count: int, into: list[float]) -> None:
    clock = time.perf_counter
    for i in range(count):
        started = clock()
        await one(i)
        into.append(clock() - started)


async def run(cfg: RunConfig) -> ScenarioResult:
    result = ScenarioResult(
        NAME,
        TITLE,
        ["p50_ms", "p99_ms", "mean_ms", "added_p50_ms", "added_p99_ms", "daemon_cpu_us_req"],
        params={"rounds": cfg.added_rounds, "per_round": cfg.added_per_round, "warmup": WARMUP},
    )
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(fake_openai())
        d = await stack.enter_async_context(daemon(fake, "aiohttp"))
        direct = AiohttpDirect(fake.base_url)
        stack.push_async_callback(direct.aclose)
        httpx_direct = HttpxDirect(fake.base_url)
        stack.push_async_callback(httpx_direct.aclose)
        for check in (direct.plain, httpx_direct.plain, d.plain):
            answer = await check(0)
            content = answer if isinstance(answer, str) else answer["choices"][0]["message"]
            if isinstance(content, dict):
                content = content["content"]
            if content != EXPECTED:
                raise RuntimeError(f"unexpected answer {content!r}")
        clients: list[tuple[str, Callable[[int], Awaitable[Any]]]] = [
            (direct.label, direct.plain),
            (DSPEX, d.plain),
            (httpx_direct.label, httpx_direct.plain),
        ]
        for _, one in clients:
            await _timed(one, min(WARMUP, cfg.added_per_round * 2), [])
        latencies: dict[str, list[float]] = {label: [] for label, _ in clients}
        daemon_cpu = 0.0
        for rnd in range(cfg.added_rounds):
            shift = rnd % len(clients)
            for label, one in clients[shift:] + clients[:shift]:
                cpu0 = proc_cpu_precise_s(d.client.pid) if label == DSPEX else 0.0
                await asyncio.wait_for(_timed(one, cfg.added_per_round, latencies[label]), 300)
                if label == DSPEX:
                    daemon_cpu += proc_cpu_precise_s(d.client.pid) - cpu0
            await asyncio.sleep(0)
        progress(f"added: {cfg.added_rounds} rounds of {cfg.added_per_round} per client")
    base = latency_summary(latencies[direct.label], "ms")
    for label, _ in clients:
        values = latency_summary(latencies[label], "ms")
        if label != direct.label:
            values["added_p50_ms"] = round(values["p50_ms"] - base["p50_ms"], 4)
            values["added_p99_ms"] = round(values["p99_ms"] - base["p99_ms"], 4)
        if label == DSPEX:
            count = cfg.added_rounds * cfg.added_per_round
            values["daemon_cpu_us_req"] = round(daemon_cpu / count * 1e6, 1)
        result.rows.append(Row("sequential plain chat", label, values))
    dspex = next(r.values for r in result.rows if r.who == DSPEX)
    result.goal(
        "added p50 over direct aiohttp (ms)",
        dspex["added_p50_ms"],
        "<= 0.3 ms",
        dspex["added_p50_ms"] <= 0.3,
    )
    result.goal(
        "added p99 over direct aiohttp (ms)",
        dspex["added_p99_ms"],
        "<= 1 ms",
        dspex["added_p99_ms"] <= 1.0,
    )
    result.notes.append(
        "added_*: this row's percentile minus the direct aiohttp call's, from the same "
        "interleaved rounds (one request at a time; the daemon's own client → stdio hop "
        "is part of what is added)."
    )
    result.notes.append(f"for scale: {PUBLISHED}.")
    return result
