"""Direct calls to the fake OpenAI server from this process: the yardstick that the `added`
and `chunks` scenarios subtract. A tuned direct client (one pooled aiohttp session, the
answer read whole, SSE read line by line and each `data:` parsed as JSON) is what a user
calling the upstream themselves would get at best; dspex's figures are "added" over it."""

from __future__ import annotations

import json
import time
from typing import Any

from .peers import API_KEY, MESSAGES, MODEL


def chunk_stamps(text: str) -> list[tuple[int, int]]:
    """(sequence number, fake's send time in ns) of each `"<seq>:<ns>;"` delta in `text`,
    the concatenation of the deltas received (several may arrive merged in one chunk)."""
    out = []
    for piece in text.split(";"):
        if piece:
            seq, _, ns = piece.partition(":")
            out.append((int(seq), int(ns)))
    return out


class AiohttpDirect:
    """One pooled aiohttp session, as a user's own code would hold."""

    label = "direct: aiohttp in process"

    def __init__(self, base_url: str) -> None:
        import aiohttp

        self.url = base_url + "/chat/completions"
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {API_KEY}"},
            connector=aiohttp.TCPConnector(limit=512),
        )

    async def plain(self, _: int = 0) -> str:
        payload = {"model": MODEL, "messages": MESSAGES}
        async with self.session.post(self.url, json=payload) as response:
            response.raise_for_status()
            body = await response.read()
        content: str = json.loads(body)["choices"][0]["message"]["content"]
        return content

    async def stream(self, model: str) -> tuple[list[int], list[str], str]:
        """A streamed answer: per content delta its arrival time (monotonic ns) and text,
        and the whole text."""
        payload = {"model": model, "messages": MESSAGES, "stream": True}
        arrivals: list[int] = []
        texts: list[str] = []
        clock = time.monotonic_ns
        async with self.session.post(self.url, json=payload) as response:
            response.raise_for_status()
            async for line in response.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                choices: list[dict[str, Any]] = json.loads(line[6:])["choices"]
                if choices:
                    piece = choices[0]["delta"].get("content")
                    if piece:
                        arrivals.append(clock())
                        texts.append(piece)
        return arrivals, texts, "".join(texts)

    async def aclose(self) -> None:
        await self.session.close()


class HttpxDirect:
    """A raw `httpx.AsyncClient` (default transport), for reference."""

    label = "direct: httpx in process"

    def __init__(self, base_url: str) -> None:
        import httpx

        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, trust_env=False
        )

    async def plain(self, _: int = 0) -> str:
        response = await self.client.post(
            "/chat/completions", json={"model": MODEL, "messages": MESSAGES}
        )
        response.raise_for_status()
        content: str = response.json()["choices"][0]["message"]["content"]
        return content

    async def aclose(self) -> None:
        await self.client.aclose()
