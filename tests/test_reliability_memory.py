"""The idle memory reclaimer (reliability/memory.py): when it runs, how often, what it does."""

from __future__ import annotations

import asyncio
import sys

import pytest

from dspex_server.reliability.memory import (
    Glibc,
    MemoryReclaimer,
    Reclaim,
    load_glibc,
    rss_kb,
)
from dspex_server.ring import Ring
from dspex_server.stats import summarise
from dspex_server.telemetry import RequestEvent


class FakeGlibc(Glibc):
    def __init__(self) -> None:
        self.trims = 0

    def trim(self) -> bool:
        self.trims += 1
        return True

    def in_use(self) -> int | None:
        return 1 << 20


def event(phase: str) -> RequestEvent:
    return RequestEvent(phase, "chat", "c", "mock", "m")  # type: ignore[arg-type]


def burst(r: MemoryReclaimer, n: int) -> None:
    for _ in range(n):
        r.on_event(event("start"))
    for _ in range(n):
        r.on_event(event("stop"))


def reclaimer(**kw: object) -> tuple[MemoryReclaimer, FakeGlibc]:
    glibc = FakeGlibc()
    args: dict[str, object] = {"idle_ms": 20, "min_interval_s": 0.0, "min_requests": 3}
    args.update(kw)
    return MemoryReclaimer(glibc=glibc, **args), glibc  # type: ignore[arg-type]


async def test_reclaims_once_when_idle_after_a_burst() -> None:
    r, glibc = reclaimer()
    burst(r, 5)
    assert r.reclaims == 0  # never on the request's own path
    await asyncio.sleep(0.1)
    assert (r.reclaims, glibc.trims) == (1, 1)
    assert r.last is not None and r.last.requests == 5 and r.last.trimmed
    await asyncio.sleep(0.1)
    assert r.reclaims == 1  # no new requests: nothing more to do


async def test_no_reclaim_below_the_burst_size_or_while_in_flight() -> None:
    r, _ = reclaimer()
    burst(r, 2)
    await asyncio.sleep(0.1)
    assert r.reclaims == 0
    for _ in range(3):
        r.on_event(event("start"))
    r.on_event(event("stop"))  # two still in flight
    await asyncio.sleep(0.1)
    assert r.reclaims == 0 and r.in_flight == 2
    r.on_event(event("stop"))
    r.on_event(event("stop"))
    await asyncio.sleep(0.1)
    assert r.reclaims == 1


async def test_a_request_during_the_idle_wait_postpones_the_reclaim() -> None:
    r, _ = reclaimer(idle_ms=80)
    burst(r, 3)
    await asyncio.sleep(0.05)
    r.on_event(event("start"))
    await asyncio.sleep(0.05)  # the timer fires now, with a request in flight
    assert r.reclaims == 0
    r.on_event(event("stop"))
    await asyncio.sleep(0.04)
    assert r.reclaims == 0  # idle is counted from the last stop
    await asyncio.sleep(0.1)
    assert r.reclaims == 1


async def test_waits_while_the_server_is_busy() -> None:
    r, _ = reclaimer()
    busy = [True]
    r.busy = lambda: busy[0]
    burst(r, 3)
    await asyncio.sleep(0.1)
    assert r.reclaims == 0
    busy[0] = False
    await asyncio.sleep(0.1)
    assert r.reclaims == 1


async def test_rate_limited() -> None:
    r, _ = reclaimer(min_interval_s=0.3)
    burst(r, 3)
    await asyncio.sleep(0.1)
    assert r.reclaims == 1
    burst(r, 3)
    await asyncio.sleep(0.1)
    assert r.reclaims == 1  # too soon after the last one
    await asyncio.sleep(0.35)
    assert r.reclaims == 2


async def test_disabled_and_closed_do_nothing() -> None:
    off = MemoryReclaimer.from_environ({"DSPEX_MEMORY_RECLAIM": "0"})
    assert not off.enabled
    burst(off, off.min_requests)
    assert off._timer is None
    r, _ = reclaimer(idle_ms=50)
    burst(r, 3)
    r.close()
    await asyncio.sleep(0.1)
    assert r.reclaims == 0


def test_environment_sets_the_idle_time() -> None:
    assert MemoryReclaimer.from_environ({}).idle_s == 3.0
    assert MemoryReclaimer.from_environ({"DSPEX_MEMORY_RECLAIM": "2500"}).idle_s == 2.5
    assert MemoryReclaimer.from_environ({"DSPEX_MEMORY_RECLAIM": "junk"}).idle_s == 3.0


def test_reclaim_without_glibc_still_collects() -> None:
    r = MemoryReclaimer(glibc=None)
    result = r.reclaim()
    assert isinstance(result, Reclaim)
    assert not result.trimmed and result.malloc_in_use is None
    assert result.blocks > 0
    assert "memory reclaimed" in result.describe()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and glibc: Linux")
def test_real_glibc_and_proc() -> None:
    rss = rss_kb()
    assert rss is not None and rss > 1000
    glibc = load_glibc()
    if glibc is None:
        pytest.skip("not glibc (musl?)")
    glibc.trim()
    in_use = glibc.in_use()
    assert in_use is None or in_use > 0
    result = MemoryReclaimer(glibc=glibc).reclaim()
    assert result.rss_after_kb is not None


def test_latency_ring_keeps_the_last_samples_oldest_first() -> None:
    ring = Ring(3)
    assert len(ring) == 0 and list(ring) == []
    for v in (1.0, 2.0, 3.0, 4.0, 5.0):
        ring.append(v)
    assert len(ring) == 3 and list(ring) == [3.0, 4.0, 5.0]
    summary = summarise(ring)
    assert (summary.count, summary.window, summary.min, summary.max) == (3, 3, 3.0, 5.0)
