"""Load: 10,000 chat requests in flight over one stdio pipe against the mock provider —
none lost, none duplicated, every answer matched to its id, memory flat after a warm-up."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from raw_daemon import RawDaemon, raw_daemon

N = 10_000
LATENCY_MS = 5000
WARM_UP = 2  # floods before the baseline: pools, caches and the store reach their size
MEASURED = 3  # floods compared with the baseline
# After each flood the daemon goes idle and reclaims (reliability/memory.py: a full
# collection, then malloc_trim), and logs its live heap. Measured over 5 runs of 5 floods
# each on 2 loaded cores (see docs/reliability.md):
# - live pymalloc/object blocks after a reclaim vary by < 100 between floods (~257,500), and
#   a leak of one object per request would add 10,000 a flood;
# - glibc's bytes in use grow by ~20 kB a flood (2 B a request: the store's and the stats'
#   tables, which level off), and a leak of 50 B a request would add 500 kB;
# - RSS, idle after the reclaim, stays within +-2 MB of the baseline with no trend; a leak of
#   200 B a request would add 2 MB a flood (6 MB over the measured floods).
# Without the reclaim RSS moves by up to ~11 MB between floods (CPython's free lists pin
# its 1 MiB arenas at random), which is why the test used to allow 16 MB.
BLOCKS_SLACK = 2_000
MALLOC_SLACK_KB = 512
RSS_SLACK_KB = 4 * 1024
RSS_TREND_KB_PER_FLOOD = 1536
RECLAIM = re.compile(
    rb"memory reclaimed after (\d+) requests: rss \d+ -> \d+ kB, \d+ objects collected, "
    rb"trimmed=\w+, blocks=(\d+), malloc_in_use=(\d+|\?) kB"
)


async def flood(d: RawDaemon, tag: str) -> dict[int, int]:
    """Send N chats back to back (no waiting), then wait for every answer."""
    ids: dict[int, int] = {}
    for i in range(N):
        params = {"messages": [{"role": "user", "content": f"{tag}-{i}"}], "provider": "mock"}
        ids[d.send_request("dspex/chat", params)] = i
        if i % 500 == 0:
            await d.drain()
    await d.drain()
    stats = await d.result("dspex/stats", {"provider": "mock"}, wait_s=120)
    in_flight = stats["providers"][0]["inFlight"]
    deadline = time.monotonic() + 120
    while any(not d.answers.get(msg_id) for msg_id in ids):
        assert time.monotonic() < deadline, "answers missing"
        assert d.alive()
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # a late duplicate would arrive now
    for msg_id, i in ids.items():
        answers = d.answers[msg_id]
        assert len(answers) == 1, (msg_id, answers)
        assert answers[0]["result"]["choices"][0]["message"]["content"] == f"{tag}-{i}"
    correlation = {d.answers[m][0]["result"]["correlationId"] for m in ids}
    assert len(correlation) == N
    return {"in_flight": in_flight}


@dataclass
class Idle:
    """The daemon's memory once idle after a flood and its reclaim."""

    rss_kb: int
    blocks: int
    malloc_kb: int | None


async def idle_after(d: RawDaemon, floods: int) -> Idle:
    """Wait for the reclaim that follows flood number `floods`, then read the figures."""
    deadline = time.monotonic() + 60
    while len(found := RECLAIM.findall(bytes(d.stderr))) < floods:
        assert time.monotonic() < deadline, "the daemon did not reclaim memory when idle"
        assert d.alive()
        await asyncio.sleep(0.1)
    assert len(found) == floods, "one reclaim per flood"
    requests, blocks, malloc_kb = found[-1]
    assert int(requests) == N
    await asyncio.sleep(0.2)
    return Idle(d.rss_kb(), int(blocks), None if malloc_kb == b"?" else int(malloc_kb))


def slope(values: list[int]) -> float:
    """Least-squares growth per flood."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return num / sum((x - mean_x) ** 2 for x in range(n))


async def test_ten_thousand_requests_in_flight(env: dict[str, str]) -> None:
    opts = {"providers": {"mock": {"latencyMs": LATENCY_MS}}}
    env = {**env, "DSPEX_LOG_LEVEL": "info"}  # the reclaim's log line carries the live heap
    async with raw_daemon(env, opts) as d:
        for k in range(WARM_UP):
            await flood(d, f"warm-{k}")
            base = await idle_after(d, k + 1)
        marks = [base]
        for k in range(MEASURED):
            seen = await flood(d, f"load-{k}")
            assert seen["in_flight"] >= 1000  # really concurrent, not one after another
            marks.append(await idle_after(d, WARM_UP + k + 1))
        rss = [m.rss_kb for m in marks]
        print(
            f"RSS kB: {rss}; blocks: {[m.blocks for m in marks]}; "
            f"malloc kB: {[m.malloc_kb for m in marks]}; RSS slope {slope(rss):.0f} kB/flood"
        )
        for m in marks[1:]:
            assert m.blocks - base.blocks <= BLOCKS_SLACK, (base, m)
            if m.malloc_kb is not None and base.malloc_kb is not None:
                assert m.malloc_kb - base.malloc_kb <= MALLOC_SLACK_KB, (base, m)
            assert m.rss_kb - base.rss_kb <= RSS_SLACK_KB, (base, m)
        assert slope(rss) <= RSS_TREND_KB_PER_FLOOD, rss
        stats = await d.result("dspex/stats", {"provider": "mock"})
        entry = stats["providers"][0]
        total = (WARM_UP + MEASURED) * N
        assert entry["requestsMade"] == total
        assert entry["requestsSuccessful"] == total
        assert entry["inFlight"] == 0
        assert entry["latencyMs"]["count"] == entry["latencyMs"]["window"]
