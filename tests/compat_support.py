"""One fake per Chat Completions row, each speaking its provider's dialect (reasoning
field, fields it refuses), the environment that points the daemon at them, and the
module-scoped fixtures of the modules that test them (`fakes`, `fresh`, `d`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import pytest_asyncio
from daemon import Daemon, clean_env, start_daemon
from fakes.openai_server import FakeOpenAI

# Mistral's documented chat completion request fields: anything else is a 422.
MISTRAL_FIELDS = frozenset(
    {
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stream",
        "stop",
        "random_seed",
        "response_format",
        "tools",
        "tool_choice",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "prediction",
        "parallel_tool_calls",
        "prompt_mode",
        "safe_prompt",
        "reasoning_effort",
    }
)
# Groq answers these with a 400 (its OpenAI compatibility notes); n must be 1.
GROQ_UNSUPPORTED = frozenset({"logprobs", "top_logprobs", "logit_bias", "n"})

# provider -> (key env var or None, base URL env var)
ROWS: dict[str, tuple[str | None, str]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "groq": ("GROQ_API_KEY", "GROQ_BASE_URL"),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_BASE_URL"),
    "xai": ("XAI_API_KEY", "XAI_BASE_URL"),
    "perplexity": ("PERPLEXITY_API_KEY", "PERPLEXITY_BASE_URL"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"),
    "lmstudio": (None, "LMSTUDIO_API_BASE"),
}


def make_fake(name: str) -> FakeOpenAI:
    key = None if ROWS[name][0] is None else f"key-for-{name}-0123456789"
    if name == "groq":
        return FakeOpenAI(key, reasoning_field="reasoning", unsupported=GROQ_UNSUPPORTED)
    if name == "mistral":
        return FakeOpenAI(
            key, reasoning_field="thinking", known_fields=MISTRAL_FIELDS, usage_in_stream=True
        )
    if name == "openrouter":
        return FakeOpenAI(key, reasoning_field="details")
    if name == "lmstudio":
        return FakeOpenAI(key, reasoning_field="reasoning")
    return FakeOpenAI(key, reasoning_field="reasoning_content")


@asynccontextmanager
async def compat_fakes() -> AsyncIterator[dict[str, FakeOpenAI]]:
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(make_fake(name)) for name in ROWS}


def compat_env(env: dict[str, str], fakes: dict[str, FakeOpenAI]) -> dict[str, str]:
    env = dict(env)
    for name, (key_env, url_env) in ROWS.items():
        if key_env:
            env[key_env] = fakes[name].api_key or ""
        env[url_env] = fakes[name].api_base
    return env


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeOpenAI]]:
    async with compat_fakes() as servers:
        yield servers


@pytest.fixture(autouse=True)
def fresh(fakes: dict[str, FakeOpenAI]) -> None:
    for fake in fakes.values():
        fake.reset()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeOpenAI]
) -> AsyncIterator[Daemon]:
    env = compat_env(clean_env(tmp_path_factory.mktemp("compat")), fakes)
    async with start_daemon(env) as daemon:
        yield daemon
