"""Structured output: throughput of `dspex/predict` answers parsed and validated by the daemon
(mock provider answering JSON), beside `dspex/chat` on the same daemon and the in-process
floor of parsing and validating the same answer with pydantic."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Literal

from ..common import Row, ScenarioResult, latency_summary, median
from ..config import RunConfig
from ..lsp_client import LspClient, RpcError, run_window
from ..servers import dspex_chat, running

NAME = "predict"
TITLE = "Structured output: dspex/predict parse + validate throughput"
METHOD_NOT_FOUND = -32601
WINDOW = 64
ANSWER = {"sentiment": "positive", "confidence": "high"}
PREDICT_PARAMS = {
    "signature": "text -> sentiment, confidence",
    "inputs": {"text": "I love programming in Elixir!"},
    "provider": "mock",
    "mode": "json",
}
MOCK_OPTIONS = {"providers": {"mock": {"mode": "fixed", "reply": json.dumps(ANSWER)}}}


def pydantic_floor(count: int) -> float:
    """Seconds to parse and validate `count` answers in-process with pydantic."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        sentiment: str
        confidence: Literal["low", "medium", "high"]

    raw = json.dumps(ANSWER)
    started = time.perf_counter()
    for _ in range(count):
        Answer.model_validate(json.loads(raw))
    return time.perf_counter() - started


async def _rate(client: LspClient, method: str, params: Any, count: int) -> dict[str, float]:
    wall, latencies = await run_window(client, method, lambda _: params, count, WINDOW)
    return {"req_s": round(count / wall, 1), **latency_summary(latencies)}


async def run(cfg: RunConfig) -> ScenarioResult:
    result = ScenarioResult(
        NAME,
        TITLE,
        ["req_s", "p50_us", "p99_us"],
        params={"requests": cfg.predict_requests, "window": WINDOW, "reps": cfg.reps},
    )
    floor = [cfg.predict_requests / pydantic_floor(cfg.predict_requests) for _ in range(cfg.reps)]
    result.rows.append(
        Row("parse + validate", "pydantic in-process (no transport)", {"req_s": median(floor)})
    )
    async with running(dspex_chat(options=MOCK_OPTIONS)) as client:
        try:
            first = await asyncio.wait_for(client.request("dspex/predict", PREDICT_PARAMS), 60)
        except RpcError as exc:
            if exc.code != METHOD_NOT_FOUND:
                raise
            result.skipped = "the daemon does not serve dspex/predict yet (-32601)"
            return result
        if first.get("outputs") != ANSWER:
            raise RuntimeError(f"dspex/predict answered {first.get('outputs')!r}")
        chat = {"provider": "mock", "messages": [{"role": "user", "content": "hi"}]}
        runs: dict[str, list[dict[str, float]]] = {"predict": [], "chat": []}
        for _ in range(cfg.reps):
            runs["predict"].append(
                await _rate(client, "dspex/predict", PREDICT_PARAMS, cfg.predict_requests)
            )
            runs["chat"].append(await _rate(client, "dspex/chat", chat, cfg.predict_requests))
    for key, label in (("predict", "dspex/predict (mock, JSON)"), ("chat", "dspex/chat (mock)")):
        med = {k: median(r[k] for r in runs[key]) for k in runs[key][0]}
        result.rows.append(Row(f"pipelined, {WINDOW} in flight", label, med))
    return result
