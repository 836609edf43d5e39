from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from daemon import Daemon, clean_env, start_daemon
from fakes.openai_server import FakeOpenAI


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A daemon environment with no provider configured and no user config file."""
    return clean_env(tmp_path)


@pytest.fixture
def single_attempt_env(env: dict[str, str]) -> dict[str, str]:
    """For tests of how one provider answer maps to an error: no retries, no breaker."""
    Path(env["DSPEX_CONFIG"]).write_text(
        "[retry]\nattempts = 1\n[circuit]\nenabled = false\n", encoding="utf-8"
    )
    return env


@pytest.fixture
async def daemon(env: dict[str, str]) -> AsyncIterator[Daemon]:
    async with start_daemon(env) as d:
        yield d


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def openai_daemon(env: dict[str, str], fake_openai: FakeOpenAI) -> AsyncIterator[Daemon]:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    async with start_daemon(env) as d:
        yield d


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny llama-architecture GGUF written by the test run (tests/tiny_gguf.py)."""
    from tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
