"""Every fault × every wire format, through one daemon: each loopback fake (Chat
Completions, Anthropic Messages, Gemini, Ollama NDJSON, Bedrock event stream) plays the
fault in its own format, and dspex answers the same way whichever adapter it went through.

Faults: a connection reset before the headers (retried) and after the status line `200`
(never sent again: `sentAfterAnswer`, one request), a slow first byte (within the timeout:
answered; past the deadline: `timeout`), a stall mid-stream (cut after
`streamIdleTimeoutMs`: interrupted), a malformed event (skipped, counted in `notices`,
every other token delivered), and a clean close (after the finish reason: complete;
before it: interrupted)."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import clean_env
from fakes.anthropic_server import FakeAnthropic, anthropic_error
from fakes.base import (
    CleanClose,
    ConnectionReset,
    FakeProvider,
    HttpError,
    MalformedEvent,
    Reply,
    Stall,
)
from fakes.bedrock_server import FakeBedrock, bedrock_error
from fakes.gemini_server import FakeGemini, invalid_key_error
from fakes.ollama_server import FakeOllama, ollama_error
from fakes.openai_server import FakeOpenAI, openai_error
from raw_daemon import RawDaemon, raw_daemon
from reliability_support import FAST_RETRY, error_data

pytestmark = pytest.mark.asyncio(loop_scope="module")

# The adapter each provider goes through (the provider table's wire format).
ADAPTERS = {
    "openai_compat": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
    "bedrock": "bedrock",
}
TEXT = "one two three four five six"  # the fakes stream it as six deltas of five characters
PIECES = ["one t", "wo th", "ree f", "our f", "ive s", "ix"]
_tokens = itertools.count()

Fakes = dict[str, FakeProvider]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    made: Fakes = {
        "openai": FakeOpenAI(),
        "anthropic": FakeAnthropic(),
        "gemini": FakeGemini(),
        "ollama": FakeOllama(),
        "bedrock": FakeBedrock(),
    }
    for fake in made.values():
        await fake.start()
    try:
        yield made
    finally:
        for fake in made.values():
            await fake.stop()


def fakes_env(tmp: Any, fakes: Fakes) -> dict[str, str]:
    openai, bedrock = fakes["openai"], fakes["bedrock"]
    assert isinstance(openai, FakeOpenAI) and isinstance(bedrock, FakeBedrock)
    return clean_env(
        tmp,
        OPENAI_API_KEY=openai.api_key or "",
        OPENAI_BASE_URL=openai.api_base,
        ANTHROPIC_API_KEY=fakes["anthropic"].api_key or "",
        ANTHROPIC_BASE_URL=fakes["anthropic"].base_url,
        GEMINI_API_KEY=fakes["gemini"].api_key or "",
        GEMINI_BASE_URL=fakes["gemini"].base_url,
        OLLAMA_HOST=fakes["ollama"].base_url,
        **bedrock.env(),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def d(tmp_path_factory: pytest.TempPathFactory, fakes: Fakes) -> AsyncIterator[RawDaemon]:
    """One daemon for every format: fast retries, no breaker (faults of one test must not
    open the circuit for the next), a 2 s per-read timeout."""
    options = {
        "retry": dict(FAST_RETRY),
        "circuit": {"enabled": False},
        "providers": {name: {"timeoutMs": 2000} for name in fakes},
    }
    env = fakes_env(tmp_path_factory.mktemp("formats"), fakes)
    async with raw_daemon(env, options) as daemon:
        yield daemon


@pytest.fixture(params=list(ADAPTERS), ids=list(ADAPTERS))
def provider(request: pytest.FixtureRequest, fakes: Fakes) -> str:
    name = ADAPTERS[request.param]
    fakes[name].reset()
    return name


def chat(provider: str, streamed: bool, content: str = TEXT, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "provider": provider,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }
    if streamed:
        params["partialResultToken"] = f"fmt-{next(_tokens)}"
    return params


def streamed_text(d: RawDaemon, token: str) -> str:
    return "".join(
        n["params"]["value"]["delta"].get("content") or ""
        for n in d.notifications
        if n["method"] == "$/progress" and n["params"]["token"] == token
    )


def chat_requests(fake: FakeProvider) -> int:
    """Chat requests the fake received (Bedrock's fake also records its control plane)."""
    return sum(1 for r in fake.requests if r.method == "POST")


# -- connection resets ---------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_reset_before_the_headers_is_retried(
    d: RawDaemon, fakes: Fakes, provider: str, streamed: bool
) -> None:
    fakes[provider].queue(ConnectionReset())
    result = await d.result("dspex/chat", chat(provider, streamed))
    assert result["choices"][0]["message"]["content"] == TEXT
    assert chat_requests(fakes[provider]) == 2


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_reset_after_200_is_sent_once(
    d: RawDaemon, fakes: Fakes, provider: str, streamed: bool
) -> None:
    fakes[provider].queue(*(ConnectionReset(after_headers=True) for _ in range(3)))
    data = error_data(await d.request("dspex/chat", chat(provider, streamed)))
    assert data["kind"] == "network_error"
    assert data["details"]["sentAfterAnswer"] is True
    assert data["retryable"] is False
    assert chat_requests(fakes[provider]) == 1


# -- slow first byte -----------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_slow_first_byte_within_the_timeout_is_answered(
    d: RawDaemon, fakes: Fakes, provider: str, streamed: bool
) -> None:
    fakes[provider].queue(Reply(text=TEXT, delay_s=0.3))
    result = await d.result("dspex/chat", chat(provider, streamed))
    assert result["choices"][0]["message"]["content"] == TEXT
    assert result["choices"][0]["finishReason"] == "stop"
    assert chat_requests(fakes[provider]) == 1


async def test_slow_first_byte_past_the_deadline_is_a_timeout(
    d: RawDaemon, fakes: Fakes, provider: str
) -> None:
    fakes[provider].queue(*(Reply(text=TEXT, delay_s=3.0) for _ in range(3)))
    started = time.monotonic()
    data = error_data(await d.request("dspex/chat", chat(provider, True, timeoutMs=300)))
    assert data["kind"] == "timeout"
    assert time.monotonic() - started < 2.0  # the deadline, not the fake's 3 s


# -- streams: stall, malformed event, clean close ------------------------------------------


async def test_stall_mid_stream_is_cut_after_the_idle_timeout(
    d: RawDaemon, fakes: Fakes, provider: str
) -> None:
    fakes[provider].queue(Stall(text=TEXT, chunks=2, stall_s=5.0))
    params = chat(provider, True, streamIdleTimeoutMs=300)
    started = time.monotonic()
    result = await d.result("dspex/chat", params)
    assert time.monotonic() - started < 3.0  # cut after 300 ms of silence, not 5 s
    choice = result["choices"][0]
    assert choice["finishReason"] == "interrupted"
    assert choice["message"]["content"] == "".join(PIECES[:2])
    assert streamed_text(d, params["partialResultToken"]) == "".join(PIECES[:2])
    assert result["error"]["kind"] == "timeout"
    assert result["error"]["details"]["streamIdleTimeoutMs"] == 300
    assert chat_requests(fakes[provider]) == 1


async def test_malformed_event_is_skipped_and_every_token_delivered(
    d: RawDaemon, fakes: Fakes, provider: str
) -> None:
    fakes[provider].queue(MalformedEvent(text=TEXT, at=2))
    params = chat(provider, True)
    result = await d.result("dspex/chat", params)
    choice = result["choices"][0]
    assert choice["message"]["content"] == TEXT
    assert choice["finishReason"] == "stop"
    assert "error" not in result
    assert streamed_text(d, params["partialResultToken"]) == TEXT
    assert any("skipped 1 malformed stream event" in n for n in result["notices"])
    assert chat_requests(fakes[provider]) == 1


async def test_clean_close_after_the_finish_reason_is_complete(
    d: RawDaemon, fakes: Fakes, provider: str
) -> None:
    fakes[provider].queue(CleanClose(text=TEXT))
    result = await d.result("dspex/chat", chat(provider, True))
    choice = result["choices"][0]
    assert choice["message"]["content"] == TEXT
    assert choice["finishReason"] == "stop"
    assert "error" not in result
    assert chat_requests(fakes[provider]) == 1


async def test_clean_close_before_the_finish_reason_is_interrupted(
    d: RawDaemon, fakes: Fakes, provider: str
) -> None:
    fakes[provider].queue(CleanClose(text=TEXT, chunks=2))
    result = await d.result("dspex/chat", chat(provider, True))
    choice = result["choices"][0]
    assert choice["finishReason"] == "interrupted"
    assert choice["message"]["content"] == "".join(PIECES[:2])
    assert result["error"]["kind"] == "network_error"
    assert result["error"]["details"]["sentAfterAnswer"] is True
    assert chat_requests(fakes[provider]) == 1


# -- answers no adapter can classify ---------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        HttpError(302, "", {"Location": "https://login.example.com/sso"}, content_type="text/html"),
        HttpError(204, ""),
    ],
    ids=["302-redirect", "204-no-content"],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_a_status_no_format_documents_is_an_unexpected_result(
    d: RawDaemon, fakes: Fakes, provider: str, streamed: bool, answer: HttpError
) -> None:
    fakes[provider].queue(answer, answer)
    data = error_data(await d.request("dspex/chat", chat(provider, streamed)))
    assert data["kind"] == "unexpected_result"
    assert data["status"] == answer.status
    assert data["retryable"] is False
    assert chat_requests(fakes[provider]) == 1
    if answer.status == 302:
        assert "login.example.com" in data["message"]


def auth_refusal(provider: str) -> HttpError:
    """Each format's answer to a bad key (Ollama has none of its own: a proxy's 401)."""
    return {
        "openai": lambda: openai_error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        ),
        "anthropic": lambda: anthropic_error(401, "authentication_error", "invalid x-api-key"),
        "gemini": invalid_key_error,
        "ollama": lambda: ollama_error(401, "unauthorized"),
        "bedrock": lambda: bedrock_error(
            403, "UnrecognizedClientException", "The security token included is invalid."
        ),
    }[provider]()


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_a_bad_key_is_an_authentication_error_and_not_retried(
    d: RawDaemon, fakes: Fakes, provider: str, streamed: bool
) -> None:
    fakes[provider].queue(auth_refusal(provider), auth_refusal(provider))
    data = error_data(await d.request("dspex/chat", chat(provider, streamed)))
    assert data["kind"] == "authentication"
    assert data["retryable"] is False
    assert chat_requests(fakes[provider]) == 1
