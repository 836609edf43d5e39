"""Set-up of the fail-over scenarios: a Chat Completions fake scripted per model (so that
scenarios on one long-running daemon never take each other's behaviours), served as three
providers (openai, groq, lmstudio), and the daemon's options."""

from __future__ import annotations

from collections import deque
from typing import Any

from aiohttp import web
from fakes.base import Behaviour, Recorded
from fakes.openai_server import FakeOpenAI

COOLDOWN_MS = 400
FAILURE_THRESHOLD = 3


class ModelScriptedFake(FakeOpenAI):
    """`by_model[m]`: behaviours for model m's next requests, in order; `always[m]`: what m
    does once its script is spent (a persistent fault). Other models answer normally."""

    def __init__(self) -> None:
        super().__init__()
        self.by_model: dict[str, deque[Behaviour]] = {}
        self.always: dict[str, Behaviour] = {}
        self._model: str | None = None

    async def record(self, request: web.Request) -> Any:
        body = await super().record(request)
        # The handler asks for its behaviour right after this, with no await in between.
        self._model = body.get("model") if isinstance(body, dict) else None
        return body

    def next_behaviour(self, default: Behaviour) -> Behaviour:
        model = self._model
        if model is not None:
            script = self.by_model.get(model)
            if script:
                return script.popleft()
            if model in self.always:
                return self.always[model]
        return super().next_behaviour(default)

    def plan(self, model: str, *behaviours: Behaviour) -> None:
        self.by_model.setdefault(model, deque()).extend(behaviours)

    def posts(self, model: str) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path.endswith("/chat/completions")
            and isinstance(r.body, dict)
            and r.body.get("model") == model
        ]


def scenario_options(fake: ModelScriptedFake) -> dict[str, Any]:
    key, base = fake.api_key, fake.api_base
    compat = {"apiKey": key, "baseUrl": base, "timeoutMs": 400}
    return {
        "retry": {"attempts": 3, "baseMs": 1, "capMs": 5},
        "circuit": {
            "failureThreshold": FAILURE_THRESHOLD,
            "cooldownMs": COOLDOWN_MS,
            "successThreshold": 2,
        },
        "providers": {
            "openai": {"timeoutMs": 400, "streamIdleTimeoutMs": 300},
            # groq continues no prefill (a restart target); lmstudio continues one.
            "groq": {**compat, "assistantPrefill": False},
            "lmstudio": {**compat, "assistantPrefill": True},
        },
        "routes": {
            "ctx-flat": {"chain": ["openai/ctx-flat-a", "openai/ctx-flat-b"]},
            "ctx-up": {"chain": ["openai/ctx-up-a", "openai/ctx-up-b", "groq/ctx-up-c"]},
            "storm": {"chain": ["openai/storm-route-a", "groq/storm-route-b"]},
        },
        "context": {
            "contextWindows": {
                "openai/ctx-flat-a": 16_000,
                "openai/ctx-flat-b": 8_000,
                "openai/ctx-up-a": 16_000,
                "openai/ctx-up-b": 8_000,
                "groq/ctx-up-c": 200_000,
            }
        },
    }


def env_for(env: dict[str, str], fake: ModelScriptedFake) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


def chat(model: str, provider: str = "openai", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": text}],
        "provider": provider,
        "model": model,
        **extra,
    }


def fallback(model: str, provider: str = "openai") -> dict[str, str]:
    return {"provider": provider, "model": model}
