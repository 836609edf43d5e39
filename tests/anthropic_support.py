"""Shared by the Anthropic test modules: one fake and one daemon per module, and chat
helpers that run a request plain or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.anthropic_server import FakeAnthropic
from provider_checks import chat, chat_error, stream_chat

P = "anthropic"
MODES = pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])


def anthropic_env(
    env: dict[str, str], fake: FakeAnthropic, key: str | None = None
) -> dict[str, str]:
    return {
        **env,
        "ANTHROPIC_API_KEY": key or fake.api_key or "",
        "ANTHROPIC_BASE_URL": fake.base_url,
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(fake: FakeAnthropic) -> None:
    fake.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(tmp_path_factory: pytest.TempPathFactory, fake: FakeAnthropic) -> AsyncIterator[Daemon]:
    env = clean_env(tmp_path_factory.mktemp("daemon"))
    # Single answers map to errors: no retries, no breaker opened for later tests.
    options = SINGLE_ATTEMPT
    async with start_daemon(anthropic_env(env, fake), initialization_options=options) as daemon:
        yield daemon


async def ask(d: Daemon, streamed: bool, **params: Any) -> tuple[Any, list[Any]]:
    """(result, streamed chunks: [] for a plain request)."""
    if streamed:
        return await stream_chat(d, P, **params)
    return await chat(d, P, **params), []


async def refused(d: Daemon, fake: FakeAnthropic, **params: Any) -> str:
    """The message of the invalid_messages error the request ends with, when nothing was
    sent to the provider."""
    data = await chat_error(d, P, **params)
    assert data["kind"] == "invalid_messages", data
    assert fake.requests == []
    return str(data["message"])


def last_body(fake: FakeAnthropic) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


def message_of(result: Any) -> dict[str, Any]:
    message = result["choices"][0]["message"]
    assert isinstance(message, dict)
    return message


def streamed_parts(partials: list[Any]) -> list[dict[str, Any]]:
    return [p for chunk in partials for p in chunk["delta"].get("parts") or ()]


def streamed_reasoning(partials: list[Any]) -> str:
    return "".join(chunk["delta"].get("reasoning") or "" for chunk in partials)
