"""One module per scenario; each exposes NAME, TITLE and `async def run(cfg) -> ScenarioResult`."""

from __future__ import annotations

from . import added, analytics, chunks, coldstart, memory, overhead, predict, proxy

SCENARIOS = {
    m.NAME: m for m in (overhead, proxy, added, chunks, coldstart, memory, analytics, predict)
}
