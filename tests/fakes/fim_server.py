"""A fake fill-in-the-middle server: Mistral's `POST /v1/fim/completions` (a chat-shaped
answer) and Ollama's `POST /api/generate` with `suffix` (stream: false). The default
answer is a deterministic function of prompt and suffix, so tests see what was sent."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .base import FakeProvider, HttpError, Reply


def fill_for(prompt: str, suffix: str) -> str:
    """What the fake inserts: names the last word before and the first word after."""
    before = prompt.rsplit(maxsplit=1)[-1] if prompt.strip() else ""
    after = suffix.split(maxsplit=1)[0] if suffix.strip() else ""
    return f"filled({before}|{after})"


class FakeFim(FakeProvider):
    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/fim/completions", self.mistral),
            web.post("/api/generate", self.ollama),
        ]

    async def _behaviour(self, request: web.Request) -> tuple[dict[str, Any], Reply | HttpError]:
        body = await self.record(request)
        wanted = None if self.api_key is None else f"Bearer {self.api_key}"
        if request.path.startswith("/v1/") and request.headers.get("Authorization") != wanted:
            return body, HttpError(401, {"message": "Unauthorized", "request_id": "x"})
        text = fill_for(str(body.get("prompt", "")), str(body.get("suffix", "")))
        behaviour = self.next_behaviour(Reply(text=text))
        if not isinstance(behaviour, Reply | HttpError):
            raise AssertionError(f"the FIM fake does not render {behaviour!r}")
        if isinstance(behaviour, Reply):
            await self.sleep(behaviour.delay_s)
        return body, behaviour

    async def mistral(self, request: web.Request) -> web.Response:
        body, behaviour = await self._behaviour(request)
        if isinstance(behaviour, HttpError):
            return self.error_response(behaviour)
        return web.json_response(
            {
                "id": "fim-fake-1",
                "object": "chat.completion",
                "created": 1700000000,
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": behaviour.text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": behaviour.prompt_tokens,
                    "completion_tokens": behaviour.completion_tokens,
                    "total_tokens": behaviour.prompt_tokens + behaviour.completion_tokens,
                },
            }
        )

    async def ollama(self, request: web.Request) -> web.Response:
        body, behaviour = await self._behaviour(request)
        if isinstance(behaviour, HttpError):
            return self.error_response(behaviour)
        return web.json_response(
            {
                "model": body.get("model"),
                "created_at": "2025-05-01T10:00:00.000000Z",
                "response": behaviour.text,
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": behaviour.prompt_tokens,
                "eval_count": behaviour.completion_tokens,
            }
        )
