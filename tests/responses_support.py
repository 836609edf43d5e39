"""Shared by the Responses API test modules: one fake and one daemon per module, the
fake's environment and a last-body helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.openai_responses_server import FakeOpenAIResponses

P = "openai-responses"
WEATHER_CALL_ID = "call_weather_1"


def responses_env(env: dict[str, str], fake: FakeOpenAIResponses) -> dict[str, str]:
    """The Responses row reads OpenAI's variables."""
    return {**env, "OPENAI_API_KEY": fake.api_key or "", "OPENAI_BASE_URL": fake.api_base}


def last_body(fake: FakeOpenAIResponses) -> dict[str, Any]:
    body = fake.requests[-1].body
    assert isinstance(body, dict)
    return body


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake() -> AsyncIterator[FakeOpenAIResponses]:
    async with FakeOpenAIResponses() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(fake: FakeOpenAIResponses) -> None:
    fake.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAIResponses
) -> AsyncIterator[Daemon]:
    env = responses_env(clean_env(tmp_path_factory.mktemp("daemon")), fake)
    async with start_daemon(env, initialization_options=SINGLE_ATTEMPT) as daemon:
        yield daemon
