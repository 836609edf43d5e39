"""Added time per streamed chunk: the fake OpenAI server streams 64 content deltas, 2 ms
apart (a fast provider's pace) and back-to-back, each stamped with the fake's monotonic
clock just before it is written; this process reads them directly (aiohttp) and through
the dspex daemon (`$/progress` partial results), and records when each delta arrives.

Per delta, the delivery delay is arrival − stamp (CLOCK_MONOTONIC is shared by every
process on the machine); "added" is dspex's percentile minus the direct read's. Time to
first token is measured from the request's start. Daemon CPU per chunk is the marginal
cost: (CPU per 64-delta stream − CPU per 1-delta stream) / 63, so the per-request cost is
not counted per chunk. Every stream is checked: all 64 deltas, in order, and the final
result's text equal to what was streamed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..common import Row, ScenarioResult, percentile, proc_cpu_precise_s, progress
from ..config import RunConfig
from ..direct import AiohttpDirect, chunk_stamps
from ..fake_process import fake_openai
from ..lsp_client import LspClient
from ..peers import MESSAGES
from ..servers import Server, running
from .proxy import daemon

RELAY_SCRIPT = str(Path(__file__).resolve().parent.parent / "relay.py")

NAME = "chunks"
TITLE = "Added time per streamed chunk (64 deltas; loopback fake OpenAI)"
DELTAS = 64
GAP_US = 2000
VARIANTS = (
    (f"{DELTAS} deltas, {GAP_US / 1000:g} ms apart", DELTAS, GAP_US),
    (f"{DELTAS} deltas, back-to-back", DELTAS, 0),
    ("1 delta (per-request baseline)", 1, 0),
)
DIRECT = "direct: aiohttp in process"
RELAY = "floor: minimal relay process (raw asyncio, bench/relay.py)"
DSPEX = "dspex daemon (aiohttp), $/progress"
RELAYS = (RELAY, DSPEX)  # a second process between the fake and this one


@dataclass
class Samples:
    ttft_ns: list[int] = field(default_factory=list)
    delay_ns: list[int] = field(default_factory=list)
    span_ns: list[int] = field(default_factory=list)
    progress_msgs: int = 0
    streams: int = 0
    broken: int = 0  # streams with a delta dropped, repeated or out of order, or a bad result

    def add(self, started: int, arrivals: list[tuple[int, str]], final: str, count: int) -> None:
        """One stream: (arrival ns, text) per message received, and the final text."""
        self.streams += 1
        stamps = [(t, seq, ns) for t, text in arrivals for seq, ns in chunk_stamps(text)]
        text = "".join(t for _, t in arrivals)
        if [seq for _, seq, _ in stamps] != list(range(count)) or final != text:
            self.broken += 1
            return
        self.ttft_ns.append(stamps[0][0] - started)
        self.delay_ns += [t - ns for t, _, ns in stamps]
        self.span_ns.append(stamps[-1][0] - stamps[0][0])


class DaemonStreams:
    """Streamed `dspex/chat` requests (or `relay/stream` to the floor relay), their
    `$/progress` values collected per token."""

    def __init__(self, client: LspClient, method: str = "dspex/chat") -> None:
        self.client = client
        self.method = method
        self.tokens = itertools.count()
        self.open: dict[str, list[tuple[int, str]]] = {}
        self.client.on_notification = self.on_notification

    def on_notification(self, msg: dict[str, Any]) -> None:
        if msg.get("method") != "$/progress":
            return
        params = msg["params"]
        into = self.open.get(params["token"])
        if into is None:
            return
        value = params["value"]
        now = time.monotonic_ns()
        for chunk in value if isinstance(value, list) else (value,):
            piece = chunk["delta"].get("content")
            if piece:
                into.append((now, piece))

    async def stream(self, model: str) -> tuple[list[tuple[int, str]], str]:
        token = f"c{next(self.tokens)}"
        arrivals: list[tuple[int, str]] = []
        self.open[token] = arrivals
        try:
            params: dict[str, Any] = {"model": model, "token": token}
            if self.method == "dspex/chat":
                params = {
                    "provider": "openai",
                    "model": model,
                    "messages": MESSAGES,
                    "partialResultToken": token,
                }
            result = await self.client.request(self.method, params)
        finally:
            del self.open[token]
        return arrivals, result["choices"][0]["message"]["content"] or ""


async def _direct(client: AiohttpDirect, model: str, count: int, into: Samples) -> None:
    started = time.monotonic_ns()
    times, texts, final = await client.stream(model)
    into.add(started, list(zip(times, texts, strict=True)), final, count)
    into.progress_msgs += len(times)


async def _via_process(client: DaemonStreams, model: str, count: int, into: Samples) -> None:
    started = time.monotonic_ns()
    arrivals, final = await client.stream(model)
    into.add(started, arrivals, final, count)
    into.progress_msgs += len({t for t, _ in arrivals})


def _q(values: list[int], q: float) -> float:
    return percentile(sorted(values), q) if values else float("nan")


async def run(cfg: RunConfig) -> ScenarioResult:
    result = ScenarioResult(
        NAME,
        TITLE,
        [
            "ttft_p50_ms",
            "delay_p50_us",
            "delay_p99_us",
            "added_ttft_p50_ms",
            "added_delay_p50_us",
            "added_delay_p99_us",
            "daemon_cpu_us_stream",
            "daemon_cpu_us_chunk",
            "chunks_per_msg",
            "broken_streams",
        ],
        params={"rounds": cfg.chunk_rounds, "streams_per_round": cfg.chunk_streams},
    )
    whos = (DIRECT, RELAY, DSPEX)
    samples = {(v, who): Samples() for v, _, _ in VARIANTS for who in whos}
    cpu = {(v, who): 0.0 for v, _, _ in VARIANTS for who in RELAYS}
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(fake_openai())
        d = DaemonStreams((await stack.enter_async_context(daemon(fake, "aiohttp"))).client)
        relay_cmd = (sys.executable, RELAY_SCRIPT, "--port", str(fake.port))
        relay = DaemonStreams(
            await stack.enter_async_context(running(Server(RELAY, relay_cmd, "", {}))),
            "relay/stream",
        )
        direct = AiohttpDirect(fake.base_url)
        stack.push_async_callback(direct.aclose)
        runners: dict[str, Callable[[str, int, Samples], Awaitable[None]]] = {
            DIRECT: lambda m, n, s: _direct(direct, m, n, s),
            RELAY: lambda m, n, s: _via_process(relay, m, n, s),
            DSPEX: lambda m, n, s: _via_process(d, m, n, s),
        }
        pids = {RELAY: relay.client.pid, DSPEX: d.client.pid}
        for one in runners.values():  # warm-up: connections, imports, caches
            for _ in range(10):
                await one(f"bench-chunks-{DELTAS}-0", DELTAS, Samples())
        for rnd in range(cfg.chunk_rounds):
            for variant, count, gap in VARIANTS:
                model = f"bench-chunks-{count}-{gap}"
                shift = rnd % len(whos)
                for who in whos[shift:] + whos[:shift]:
                    pid = pids.get(who)
                    cpu0 = proc_cpu_precise_s(pid) if pid else 0.0
                    for _ in range(cfg.chunk_streams):
                        one = runners[who]
                        await asyncio.wait_for(one(model, count, samples[(variant, who)]), 60)
                    if pid:
                        cpu[(variant, who)] += proc_cpu_precise_s(pid) - cpu0
        progress(f"chunks: {cfg.chunk_rounds} rounds of {cfg.chunk_streams} streams per case")
    single = VARIANTS[-1][0]
    for variant, count, _ in VARIANTS:
        ref = samples[(variant, DIRECT)]
        for who in whos:
            s = samples[(variant, who)]
            values: dict[str, float] = {
                "ttft_p50_ms": round(_q(s.ttft_ns, 0.5) / 1e6, 4),
                "delay_p50_us": round(_q(s.delay_ns, 0.5) / 1e3, 1),
                "delay_p99_us": round(_q(s.delay_ns, 0.99) / 1e3, 1),
                "chunks_per_msg": round(len(s.delay_ns) / max(1, s.progress_msgs), 2),
                "broken_streams": float(s.broken),
            }
            if who in RELAYS:
                values["added_ttft_p50_ms"] = round(
                    (_q(s.ttft_ns, 0.5) - _q(ref.ttft_ns, 0.5)) / 1e6, 4
                )
                values["added_delay_p50_us"] = round(
                    (_q(s.delay_ns, 0.5) - _q(ref.delay_ns, 0.5)) / 1e3, 1
                )
                values["added_delay_p99_us"] = round(
                    (_q(s.delay_ns, 0.99) - _q(ref.delay_ns, 0.99)) / 1e3, 1
                )
                per_stream = cpu[(variant, who)] / max(1, s.streams)
                base = cpu[(single, who)] / max(1, samples[(single, who)].streams)
                values["daemon_cpu_us_stream"] = round(per_stream * 1e6, 1)
                if count > 1:
                    values["daemon_cpu_us_chunk"] = round(
                        (per_stream - base) / (count - 1) * 1e6, 2
                    )
            result.rows.append(Row(variant, who, values))
    rows = {(r.case, r.who): r.values for r in result.rows}
    paced, burst = VARIANTS[0][0], VARIANTS[1][0]
    added = rows[(paced, DSPEX)]["added_delay_p50_us"]
    result.goal(f"{paced}: added per-chunk latency p50 (µs)", added, "<= 50 µs", added <= 50)
    for variant in (paced, burst):
        per_chunk = rows[(variant, DSPEX)]["daemon_cpu_us_chunk"]
        result.goal(f"{variant}: daemon CPU per chunk (µs)", per_chunk, "<= 20 µs", per_chunk <= 20)
    broken = sum(s.broken for s in samples.values())
    result.goal("streams with a delta dropped or reordered", broken, "0", broken == 0)
    floor = rows[(paced, RELAY)]
    result.notes.append(
        "delay: a delta's delivery delay, from the fake's write to its arrival here; added_*: "
        "the row's percentile minus the direct read's. chunks_per_msg: deltas per message "
        "received (per SSE event directly and through the relay; per `$/progress` through "
        "dspex, which merges the deltas of one network read)."
    )
    result.notes.append(
        f"the floor relay (a second process doing nothing but pass deltas on) adds "
        f"{floor['added_delay_p50_us']:.0f} µs per paced chunk at p50 and spends "
        f"{floor.get('daemon_cpu_us_chunk', float('nan')):.0f} µs of CPU per paced chunk: "
        "the cost of one more process hop and wake-up on this machine."
    )
    return result
