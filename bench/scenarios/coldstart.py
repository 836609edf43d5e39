"""Cold start: spawn to `initialize` answered, against a bare pygls server and against the
time Python takes to `import litellm` (local cost map: no network)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

from ..common import Row, ScenarioResult, daemon_env, installed, median
from ..config import RunConfig
from ..lsp_client import LspClient
from ..servers import Server, dspex_chat, echo

NAME = "coldstart"
TITLE = "Cold start: spawn to first answer"


async def until_initialized(server: Server, first_request: bool = False) -> float:
    """Spawn → `initialize` answered; with `first_request`, on to the first real request
    answered (after `initialized`): what a script that starts a daemon per call waits for
    (dspex loads its services after `initialize`)."""
    client = LspClient()
    started = time.perf_counter()
    await client.start(server.cmd, server.env)
    try:
        await asyncio.wait_for(client.initialize(), 60)
        if first_request:
            await asyncio.wait_for(client.request(server.method, dict(server.params)), 60)
        return time.perf_counter() - started
    finally:
        await client.close()


async def until_exit(code: str) -> float:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, env=daemon_env())
    if await asyncio.wait_for(proc.wait(), 120) != 0:
        raise RuntimeError(f"python -c {code!r} failed")
    return time.perf_counter() - started


async def run(cfg: RunConfig) -> ScenarioResult:
    contenders: list[tuple[str, Callable[[], Awaitable[float]]]] = [
        ("dspex daemon: spawn → initialize answered", lambda: until_initialized(dspex_chat())),
        ("bare pygls server: spawn → initialize answered", lambda: until_initialized(echo(False))),
        ("python -c pass", lambda: until_exit("pass")),
        (
            "dspex daemon: spawn → first dspex/chat (mock) answered",
            lambda: until_initialized(dspex_chat(), first_request=True),
        ),
        (
            "bare pygls server: spawn → first echo answered",
            lambda: until_initialized(echo(False), first_request=True),
        ),
    ]
    result = ScenarioResult(NAME, TITLE, ["ms"], params={"reps": cfg.cold_reps})
    if installed("litellm"):
        contenders.append(("python -c 'import litellm'", lambda: until_exit("import litellm")))
    else:
        result.notes.append("LiteLLM is not installed: its import time is not measured")
    samples: dict[str, list[float]] = {label: [] for label, _ in contenders}
    for rep in range(cfg.cold_reps):
        shift = rep % len(contenders)
        for label, measure in contenders[shift:] + contenders[:shift]:
            samples[label].append(await measure() * 1e3)
    for label, values in samples.items():
        result.rows.append(
            Row("cold start", label, {"ms": round(median(values), 1), "min_ms": min(values)})
        )
    result.columns.append("min_ms")
    dspex, pygls = (median(samples[label]) for label, _ in contenders[:2])
    ratio = dspex / pygls
    result.goal("spawn→initialize vs bare pygls", ratio, "<= 1.15x", ratio <= 1.15)
    first = median(samples[contenders[3][0]]) / median(samples[contenders[4][0]])
    result.goal("(info) spawn→first answer vs bare pygls", first, "<= 1.15x", first <= 1.15)
    result.notes.append(
        "dspex answers `initialize` from name lists and loads its services (pydantic models, "
        "handlers, providers) on the next message; the first-answer rows include that load."
    )
    return result
