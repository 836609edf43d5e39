"""Proxy throughput: client → dspex daemon → a fast loopback fake OpenAI server, against
LiteLLM's `acompletion` and a raw `httpx.AsyncClient` in-process, plain and streamed."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from ..common import (
    DAEMON_CMD,
    Row,
    ScenarioResult,
    daemon_env,
    installed,
    median,
    proc_cpu_s,
    progress,
    self_cpu_s,
)
from ..config import RunConfig
from ..fake_process import FakeServer, fake_openai
from ..lsp_client import LspClient
from ..peers import API_KEY, MESSAGES, MODEL, HttpxPeer, LiteLLMPeer, drive
from ..servers import Server, running

NAME = "proxy"
TITLE = "Proxy throughput to a loopback fake OpenAI server"
TRANSPORTS = ("aiohttp", "httpx")
WARMUP = 64
EXPECTED = "Hello! This is a fake reply."


class DaemonClient:
    """dspex/chat through a daemon on one HTTP transport."""

    def __init__(self, client: LspClient, transport: str) -> None:
        self.client = client
        self.label = f"dspex daemon (httpTransport={transport})"
        self.tokens = itertools.count()

    def plain(self, _: int) -> Awaitable[Any]:
        return self.client.request(
            "dspex/chat", {"provider": "openai", "model": MODEL, "messages": MESSAGES}
        )

    def stream(self, _: int) -> Awaitable[Any]:
        token = f"b{next(self.tokens)}"
        return self.client.request(
            "dspex/chat",
            {
                "provider": "openai",
                "model": MODEL,
                "messages": MESSAGES,
                "partialResultToken": token,
            },
        )


@asynccontextmanager
async def daemon(fake: FakeServer, transport: str) -> AsyncIterator[DaemonClient]:
    env = daemon_env(
        OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=fake.base_url, DSPEX_HTTP_TRANSPORT=transport
    )
    async with running(Server(transport, DAEMON_CMD, "dspex/chat", {}, env)) as client:
        yield DaemonClient(client, transport)


async def _check(d: DaemonClient) -> None:
    for call in (d.plain, d.stream):
        result = await call(0)
        content = result["choices"][0]["message"]["content"]
        if content != EXPECTED:
            raise RuntimeError(f"{d.label}: unexpected answer {content!r}")


async def run(cfg: RunConfig) -> ScenarioResult:
    result = ScenarioResult(
        NAME,
        TITLE,
        ["req_s", "p50_ms", "p99_ms", "client_cpu_us_req", "fake_cpu_us_req", "errors"],
        params={
            "reps": cfg.proxy_reps,
            "requests": cfg.proxy_requests,
            "requests_below_top_concurrency": cfg.proxy_requests_low,
            "concurrency": list(cfg.proxy_concurrency),
        },
    )
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(fake_openai())
        clients: list[Any] = []
        for transport in TRANSPORTS:
            d = await stack.enter_async_context(daemon(fake, transport))
            await _check(d)
            clients.append(d)
        clients.append(HttpxPeer(fake.base_url))
        stack.push_async_callback(clients[-1].aclose)
        if installed("litellm"):
            clients.append(LiteLLMPeer(fake.base_url))
        else:
            result.notes.append("LiteLLM is not installed (pip install '.[bench]'): skipped")
        samples: dict[tuple[str, int, str], list[dict[str, float]]] = {}
        for rep in range(cfg.proxy_reps):
            for mode, conc in itertools.product(("plain", "stream"), cfg.proxy_concurrency):
                count = (
                    cfg.proxy_requests
                    if conc == max(cfg.proxy_concurrency)
                    else (cfg.proxy_requests_low)
                )
                shift = rep % len(clients)
                for c in clients[shift:] + clients[:shift]:
                    one: Callable[[int], Awaitable[Any]] = getattr(c, mode)
                    await drive(one, min(WARMUP, cfg.proxy_requests), min(conc, 32))
                    stats = await _measure(c, one, fake, count, conc)
                    samples.setdefault((mode, conc, c.label), []).append(stats)
                    progress(f"{mode} c={conc} {c.label}: {stats['req_s']:,.0f} req/s")
    ceilings = []
    for (mode, conc, label), runs in samples.items():
        med = {k: median(r[k] for r in runs) for k in runs[0]}
        result.rows.append(Row(f"{mode} c={conc}", label, med))
        if med["fake_cpu_us_req"] > 0:
            ceilings.append(1e6 / med["fake_cpu_us_req"])
    if ceilings:
        result.notes.append(
            f"fake server ceiling (1 / its CPU per request, one core): about "
            f"{min(ceilings):,.0f} req/s at worst, {median(ceilings):,.0f} req/s median; every "
            "client row stays below it, so the fake is not what is measured."
        )
    result.notes.append(
        "client_cpu_us_req: the daemon process's CPU per request for dspex rows, this "
        "process's CPU per request for in-process peers."
    )
    _goals(result, cfg)
    return result


async def _measure(
    client: Any, one: Callable[[int], Awaitable[Any]], fake: FakeServer, count: int, conc: int
) -> dict[str, float]:
    daemon_pid = client.client.pid if isinstance(client, DaemonClient) else None
    fake0 = proc_cpu_s(fake.pid)
    cpu0 = proc_cpu_s(daemon_pid) if daemon_pid else self_cpu_s()
    stats = await asyncio.wait_for(drive(one, count, conc), 600)
    cpu = (proc_cpu_s(daemon_pid) if daemon_pid else self_cpu_s()) - cpu0
    stats["client_cpu_us_req"] = round(cpu / count * 1e6, 1)
    stats["fake_cpu_us_req"] = round((proc_cpu_s(fake.pid) - fake0) / count * 1e6, 1)
    return stats


def _goals(result: ScenarioResult, cfg: RunConfig) -> None:
    top = max(cfg.proxy_concurrency)
    rows = {(r.case, r.who): r.values for r in result.rows}
    for mode in ("plain", "stream"):
        case = f"{mode} c={top}"
        dspex = rows.get((case, "dspex daemon (httpTransport=aiohttp)"))
        if dspex is None:
            continue
        for peer, target in (("LiteLLM acompletion", 10.0), ("raw httpx.AsyncClient", 5.0)):
            other = rows.get((case, peer))
            if other and other["req_s"] > 0:
                ratio = dspex["req_s"] / other["req_s"]
                result.goal(f"{case}: vs {peer}", ratio, f">= {target:g}x", ratio >= target)
