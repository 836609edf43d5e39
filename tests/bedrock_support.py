"""Shared by the Bedrock test modules: one fake Converse API and one daemon per module,
the fake's script reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.bedrock_server import FakeBedrock


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake_bedrock() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock() as fake:
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bedrock(
    tmp_path_factory: pytest.TempPathFactory, fake_bedrock: FakeBedrock
) -> AsyncIterator[Daemon]:
    env = clean_env(tmp_path_factory.mktemp("bedrock"), **fake_bedrock.env())
    async with start_daemon(env, initialization_options=SINGLE_ATTEMPT) as d:
        yield d


@pytest.fixture(autouse=True)
def fresh_script(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.reset()
    fake_bedrock.validation_failures.clear()
    fake_bedrock.signature_failures.clear()
