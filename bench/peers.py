"""In-process peers for the proxy scenario: raw httpx and LiteLLM, and the concurrency driver
every proxy client (these and the daemon) is measured with."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

MESSAGES = [{"role": "user", "content": "Say hello."}]
MODEL = "gpt-4o-mini"
API_KEY = "sk-bench-not-a-secret"

OneRequest = Callable[[int], Awaitable[Any]]
REQUEST_TIMEOUT_S = 30.0  # a request that hangs counts as an error instead of stalling a run


async def drive(one: OneRequest, count: int, concurrency: int) -> dict[str, float]:
    """`count` requests, `concurrency` in flight; wall time, latency percentiles, errors."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < count:
            i = next_index
            next_index += 1
            started = clock()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    await one(i)
            except Exception:
                errors += 1
                continue
            latencies.append(clock() - started)

    t0 = clock()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    wall = clock() - t0
    latencies.sort()
    from .common import percentile

    return {
        "req_s": round(len(latencies) / wall, 1) if latencies else 0.0,
        "p50_ms": round(percentile(latencies, 0.5) * 1e3, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1e3, 2),
        "errors": float(errors),
    }


class HttpxPeer:
    """A raw `httpx.AsyncClient` with a pool as large as the daemon's (512)."""

    label = "raw httpx.AsyncClient"

    def __init__(self, base_url: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=512, max_keepalive_connections=512),
            timeout=120.0,
            headers={"Authorization": f"Bearer {API_KEY}"},
            trust_env=False,
        )

    async def plain(self, _: int) -> Any:
        response = await self.client.post(
            "/chat/completions", json={"model": MODEL, "messages": MESSAGES}
        )
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    async def stream(self, _: int) -> str:
        payload = {"model": MODEL, "messages": MESSAGES, "stream": True}
        parts: list[str] = []
        async with self.client.stream("POST", "/chat/completions", json=payload) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:])["choices"]
                    if choices:
                        parts.append(choices[0]["delta"].get("content") or "")
        return "".join(parts)

    async def aclose(self) -> None:
        await self.client.aclose()


class LiteLLMPeer:
    """LiteLLM's `acompletion` in this process (its local cost map: no network at import)."""

    label = "LiteLLM acompletion"

    def __init__(self, base_url: str) -> None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        self.litellm = litellm
        self.base_url = base_url

    async def plain(self, _: int) -> Any:
        response = await self.litellm.acompletion(
            model=f"openai/{MODEL}", api_base=self.base_url, api_key=API_KEY, messages=MESSAGES
        )
        return response.choices[0].message.content

    async def stream(self, _: int) -> str:
        response = await self.litellm.acompletion(
            model=f"openai/{MODEL}",
            api_base=self.base_url,
            api_key=API_KEY,
            messages=MESSAGES,
            stream=True,
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in response]
        return "".join(parts)

    async def aclose(self) -> None:
        return None
