"""Shared set-up of the reliability tests: a daemon on a FakeOpenAI with fast retries."""

from __future__ import annotations

from typing import Any

from fakes.openai_server import FakeOpenAI

FAST_RETRY = {"attempts": 3, "baseMs": 1, "capMs": 5}


def openai_env(env: dict[str, str], fake: FakeOpenAI) -> dict[str, str]:
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


def options(**overrides: Any) -> dict[str, Any]:
    """initializationOptions: fast retries, a short per-attempt timeout for openai."""
    opts: dict[str, Any] = {
        "retry": dict(FAST_RETRY),
        "providers": {"openai": {"timeoutMs": 400}},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(opts.get(key), dict):
            opts[key] = {**opts[key], **value}
        else:
            opts[key] = value
    return opts


def chat_params(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def error_data(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" in answer, answer
    data: dict[str, Any] = answer["error"]["data"]
    return data


async def eventually(predicate: Any, wait_s: float = 5.0, step_s: float = 0.01) -> None:
    """Wait until `predicate()` is true; fail after `wait_s`."""
    import asyncio
    import time

    deadline = time.monotonic() + wait_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(step_s)
