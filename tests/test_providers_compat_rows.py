"""The Chat Completions rows (groq, mistral, xai, perplexity, openrouter, lmstudio): each is
configured by its own env vars and reaches its own base URL with its own credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import pytest_asyncio
from daemon import Daemon, clean_env, start_daemon
from fakes.base import Reply
from fakes.openai_server import FakeOpenAI
from provider_checks import chat, chat_error, stream_chat, streamed_text

pytestmark = pytest.mark.asyncio(loop_scope="module")

# provider → (key env var or None for a keyless local server, base URL env var, default model)
ROWS: dict[str, tuple[str | None, str, str | None]] = {
    "groq": ("GROQ_API_KEY", "GROQ_BASE_URL", "llama-3.3-70b-versatile"),
    "mistral": ("MISTRAL_API_KEY", "MISTRAL_BASE_URL", "mistral-small-latest"),
    "xai": ("XAI_API_KEY", "XAI_BASE_URL", "grok-4"),
    "perplexity": ("PERPLEXITY_API_KEY", "PERPLEXITY_BASE_URL", "sonar"),
    "openrouter": ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "openai/gpt-4o-mini"),
    "lmstudio": (None, "LMSTUDIO_API_BASE", None),
}
TABLE_ORDER = [
    "openai",
    "anthropic",
    "gemini",
    "groq",
    "mistral",
    "xai",
    "perplexity",
    "openrouter",
    "lmstudio",
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeOpenAI]]:
    async with AsyncExitStack() as stack:
        servers = {}
        for name, (key_env, _, _) in ROWS.items():
            key = f"key-for-{name}-0123456789" if key_env else None
            servers[name] = await stack.enter_async_context(FakeOpenAI(api_key=key))
        yield servers


@pytest.fixture(autouse=True)
def fresh_fakes(fakes: dict[str, FakeOpenAI]) -> None:
    for fake in fakes.values():
        fake.reset()


def rows_env(env: dict[str, str], fakes: dict[str, FakeOpenAI]) -> dict[str, str]:
    env = dict(env)
    for name, (key_env, url_env, _) in ROWS.items():
        if key_env:
            env[key_env] = fakes[name].api_key or ""
        env[url_env] = fakes[name].api_base
    return env


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeOpenAI]
) -> AsyncIterator[Daemon]:
    env = rows_env(clean_env(tmp_path_factory.mktemp("rows")), fakes)
    async with start_daemon(env) as daemon:
        yield daemon


@pytest.mark.parametrize("name", list(ROWS))
async def test_row_reaches_its_base_url_with_its_key(
    d: Daemon, fakes: dict[str, FakeOpenAI], name: str
) -> None:
    key_env, _, default_model = ROWS[name]
    model = default_model or "qwen2.5-7b-instruct"
    params = {} if default_model else {"model": model}
    result = await chat(d, name, maxTokens=50, **params)
    assert result["provider"] == name
    assert result["choices"][0]["message"]["content"] == "Say hi"
    recorded = fakes[name].requests[-1]
    assert recorded.path == "/v1/chat/completions"
    assert recorded.body["model"] == model
    # Compatible servers take max_tokens; only OpenAI itself wants max_completion_tokens.
    assert recorded.body["max_tokens"] == 50
    if key_env:
        assert recorded.headers["Authorization"] == f"Bearer {fakes[name].api_key}"
    else:
        assert "Authorization" not in recorded.headers
    others = [f for n, f in fakes.items() if n != name]
    assert all(not f.requests for f in others)


async def test_openrouter_sends_attribution_headers(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    await chat(d, "openrouter")
    headers = fakes["openrouter"].requests[-1].headers
    assert headers["X-Title"] == "dspex"
    assert headers["HTTP-Referer"].startswith("https://")
    await chat(d, "groq")
    assert "X-Title" not in fakes["groq"].requests[-1].headers


async def test_openrouter_attribution_is_configurable(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeOpenAI]
) -> None:
    env = rows_env(clean_env(tmp_path_factory.mktemp("attribution")), fakes)
    headers = {"HTTP-Referer": "https://example.org/my-app", "X-Title": "My App"}
    options = {"providers": {"openrouter": {"headers": headers}}}
    async with start_daemon(env, initialization_options=options) as daemon:
        await chat(daemon, "openrouter")
    sent = fakes["openrouter"].requests[-1].headers
    assert (sent["HTTP-Referer"], sent["X-Title"]) == ("https://example.org/my-app", "My App")


async def test_compat_row_streams_with_usage(d: Daemon, fakes: dict[str, FakeOpenAI]) -> None:
    fakes["groq"].queue(Reply(text="Bonjour from a streamed row", completion_tokens=6))
    result, partials = await stream_chat(d, "groq")
    assert streamed_text(partials) == "Bonjour from a streamed row"
    assert result["usage"]["completionTokens"] == 6
    assert fakes["groq"].requests[-1].body["stream_options"] == {"include_usage": True}


async def test_providers_lists_rows_in_table_order(d: Daemon) -> None:
    result = await d.request("dspex/providers", {})
    rows = {p["name"]: p for p in result["providers"]}
    names = [p["name"] for p in result["providers"] if p["name"] in TABLE_ORDER]
    assert names == TABLE_ORDER
    for name in ROWS:
        assert rows[name]["configured"] is True
        assert rows[name]["wireFormat"] == "openai_compat"
    assert rows["anthropic"]["wireFormat"] == "anthropic"
    assert rows["gemini"]["wireFormat"] == "gemini"
    # openai, anthropic and gemini have no keys here: groq is the first configured row.
    assert result["defaultProvider"] == "groq"
    chat_result = await d.request(
        "dspex/chat", {"messages": [{"role": "user", "content": "who answers?"}]}
    )
    assert chat_result["provider"] == "groq"


async def test_rows_are_unconfigured_without_their_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    async with start_daemon(clean_env(tmp_path_factory.mktemp("bare"))) as daemon:
        result = await daemon.request("dspex/providers", {})
        rows = {p["name"]: p for p in result["providers"]}
        assert not any(rows[name]["configured"] for name in (*ROWS, "anthropic", "gemini"))
        assert rows["lmstudio"]["baseUrl"] == "http://localhost:1234/v1"
        data = await chat_error(daemon, "groq")
    assert data["kind"] == "provider_not_configured"
    assert "GROQ_API_KEY" in data["message"]


async def test_lmstudio_without_a_model_says_so(d: Daemon) -> None:
    data = await chat_error(d, "lmstudio")
    assert data["kind"] == "invalid_messages"
    assert "model" in data["message"]
