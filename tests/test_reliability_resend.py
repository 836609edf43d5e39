"""Never send a request twice once the provider answered: a connection reset after the
status line `200` ends as `network_error` with `details.sentAfterAnswer`, after exactly one
request on the wire (plain and streamed, both HTTP transports), unless the provider honours
an idempotency key (`providers.<name>.idempotencyHeader`); a reset before the headers is
still retried."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.base import ConnectionReset
from fakes.openai_server import FakeOpenAI
from raw_daemon import raw_daemon
from reliability_support import chat_params, error_data, openai_env, options


def reset_params(streamed: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {"partialResultToken": "r"} if streamed else {}
    return chat_params("answered once", provider="openai", **extra)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_reset_after_200_is_not_sent_again(
    env: dict[str, str], fake_openai: FakeOpenAI, transport: str, streamed: bool
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options(httpTransport=transport)) as d:
        fake_openai.queue(*(ConnectionReset(after_headers=True) for _ in range(3)))
        data = error_data(await d.request("dspex/chat", reset_params(streamed)))
        assert data["kind"] == "network_error"
        assert data["details"]["sentAfterAnswer"] is True
        assert data["retryable"] is False
        assert len(fake_openai.requests) == 1
        stats = await d.result("dspex/stats", {"provider": "openai"})
        assert stats["providers"][0]["retries"] == 0


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_reset_before_the_headers_is_still_retried(
    env: dict[str, str], fake_openai: FakeOpenAI, streamed: bool
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options()) as d:
        fake_openai.queue(ConnectionReset(), ConnectionReset())
        result = await d.result("dspex/chat", reset_params(streamed))
        assert result["choices"][0]["message"]["content"] == "answered once"
        assert len(fake_openai.requests) == 3


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
async def test_an_honoured_idempotency_key_allows_the_resend(
    env: dict[str, str], fake_openai: FakeOpenAI, streamed: bool
) -> None:
    opts = options(providers={"openai": {"timeoutMs": 400, "idempotencyHeader": "Idempotency-Key"}})
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(ConnectionReset(after_headers=True))
        result = await d.result("dspex/chat", reset_params(streamed))
        assert result["choices"][0]["message"]["content"] == "answered once"
        keys = [r.headers.get("Idempotency-Key") for r in fake_openai.requests]
        assert len(keys) == 2
        assert keys[0] is not None and keys[0] == keys[1]  # one key for the retries
        fake_openai.requests.clear()
        await d.result("dspex/chat", reset_params(streamed))
        assert fake_openai.requests[0].headers["Idempotency-Key"] != keys[0]  # a new request


async def test_no_idempotency_header_is_sent_by_default(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options()) as d:
        await d.result("dspex/chat", reset_params(False))
        assert "Idempotency-Key" not in fake_openai.requests[0].headers
