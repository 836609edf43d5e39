"""Shared by the Gemini test modules: one fake and one daemon per module, and a chat
helper that runs a request plain or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.gemini_server import FakeGemini
from provider_checks import chat, stream_chat

P = "gemini"
G3 = "gemini-3-pro-preview"


def gemini_env(
    env: dict[str, str], fake: FakeGemini, key: str | None = None, key_env: str = "GEMINI_API_KEY"
) -> dict[str, str]:
    return {**env, key_env: key or fake.api_key or "", "GEMINI_BASE_URL": fake.base_url}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake() -> AsyncIterator[FakeGemini]:
    async with FakeGemini() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(fake: FakeGemini) -> None:
    fake.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(tmp_path_factory: pytest.TempPathFactory, fake: FakeGemini) -> AsyncIterator[Daemon]:
    env = gemini_env(clean_env(tmp_path_factory.mktemp("daemon")), fake)
    # Single answers map to errors: no retries, no breaker opened for later tests.
    async with start_daemon(env, initialization_options=SINGLE_ATTEMPT) as daemon:
        yield daemon


def sent(fake: FakeGemini) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


async def ask(d: Daemon, streamed: bool, **params: Any) -> Any:
    if streamed:
        result, _ = await stream_chat(d, P, **params)
        return result
    return await chat(d, P, **params)
