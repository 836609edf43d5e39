"""Fault injection through the loopback Chat Completions fake: each fault yields the right
error kind after the configured number of attempts; Retry-After and the deadline hold."""

from __future__ import annotations

import time

import pytest
from fakes.base import ConnectionReset, Garbage, HttpError, Reply, TruncatedStream
from fakes.openai_server import FakeOpenAI, openai_error
from raw_daemon import RawDaemon, raw_daemon
from reliability_support import chat_params, error_data, openai_env, options

HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture
async def d(env: dict[str, str], fake_openai: FakeOpenAI):  # type: ignore[no-untyped-def]
    async with raw_daemon(openai_env(env, fake_openai), options()) as daemon:
        yield daemon


async def warm_up(d: RawDaemon, fake: FakeOpenAI) -> None:
    """One request first, so that timed requests do not pay for lazy imports and the pool."""
    assert "result" in await d.request("dspex/chat", chat_params(provider="openai"))
    fake.requests.clear()


def server_error(status: int) -> HttpError:
    return openai_error(status, "The server had an error", "server_error")


def overloaded() -> HttpError:  # Anthropic's 529 body, as an OpenAI-compatible proxy relays it
    return HttpError(529, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}})


@pytest.mark.parametrize(
    ("fault", "kind", "status"),
    [
        (lambda: server_error(500), "api_error", 500),
        (lambda: HttpError(502, HTML_PAGE, content_type="text/html"), "api_error", 502),
        (lambda: server_error(503), "api_error", 503),
        (overloaded, "api_error", 529),
        (ConnectionReset, "network_error", None),
        (lambda: Reply(text="late", delay_s=3.0), "timeout", None),  # read timeout (400 ms)
        (
            lambda: openai_error(429, "Rate limit", "requests", "rate_limit_exceeded"),
            "rate_limited",
            429,
        ),
    ],
    ids=["500", "502-html", "503", "529", "reset", "read-timeout", "429"],
)
async def test_retryable_fault_is_retried_the_configured_times(
    d: RawDaemon, fake_openai: FakeOpenAI, fault: object, kind: str, status: int | None
) -> None:
    fake_openai.queue(*(fault() for _ in range(3)))  # type: ignore[operator]
    data = error_data(await d.request("dspex/chat", chat_params(provider="openai")))
    assert data["kind"] == kind
    assert data.get("status") == status
    assert data["retryable"] is True
    assert data["details"]["attempts"] == 3
    assert len(fake_openai.requests) == 3


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (lambda: Garbage(body="{not json", content_type="application/json"), "invalid_response"),
        (Garbage, "invalid_response"),  # an HTML page with status 200
        (lambda: openai_error(400, "bad", "invalid_request_error"), "invalid_messages"),
        (
            lambda: openai_error(401, "no", "invalid_request_error", "invalid_api_key"),
            "authentication",
        ),
    ],
    ids=["invalid-json", "html-200", "400", "401"],
)
async def test_non_retryable_fault_is_not_retried(
    d: RawDaemon, fake_openai: FakeOpenAI, fault: object, kind: str
) -> None:
    fake_openai.queue(fault(), fault())  # type: ignore[operator]
    data = error_data(await d.request("dspex/chat", chat_params(provider="openai")))
    assert data["kind"] == kind
    assert len(fake_openai.requests) == 1


async def test_transient_fault_then_success_counts_retries(
    d: RawDaemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(server_error(503), ConnectionReset())
    result = await d.result("dspex/chat", chat_params("third time lucky", provider="openai"))
    assert result["choices"][0]["message"]["content"] == "third time lucky"
    assert len(fake_openai.requests) == 3
    stats = await d.result("dspex/stats", {"provider": "openai"})
    assert stats["providers"][0]["retries"] == 2
    assert stats["providers"][0]["requestsSuccessful"] == 1


async def test_slow_first_byte_within_the_timeout_succeeds(
    d: RawDaemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Reply(text="slow", delay_s=0.25))
    result = await d.result("dspex/chat", chat_params(provider="openai"))
    assert result["choices"][0]["message"]["content"] == "slow"
    assert len(fake_openai.requests) == 1


async def test_retry_after_is_honoured(d: RawDaemon, fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(
        openai_error(429, "slow down", "requests", headers={"Retry-After": "0.4"}),
        openai_error(429, "slow down", "requests", headers={"retry-after-ms": "300"}),
    )
    started = time.monotonic()
    result = await d.result("dspex/chat", chat_params(provider="openai"))
    assert result["provider"] == "openai"
    assert time.monotonic() - started >= 0.7
    assert len(fake_openai.requests) == 3


async def test_retry_after_over_the_cap_ends_retries(d: RawDaemon, fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(openai_error(429, "quota", "requests", headers={"Retry-After": "120"}))
    started = time.monotonic()
    data = error_data(await d.request("dspex/chat", chat_params(provider="openai")))
    assert data["kind"] == "rate_limited" and data["retryAfterMs"] == 120_000
    assert time.monotonic() - started < 2
    assert len(fake_openai.requests) == 1
    stats = await d.result("dspex/stats", {"provider": "openai"})
    assert stats["providers"][0]["state"] == "throttled"


async def test_deadline_bounds_all_attempts(env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    opts = options(
        retry={"attempts": 20, "baseMs": 150, "capMs": 150}, circuit={"failureThreshold": 100}
    )
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        await warm_up(d, fake_openai)
        fake_openai.queue(*(server_error(500) for _ in range(20)))
        started = time.monotonic()
        answer = await d.request("dspex/chat", chat_params(provider="openai", timeoutMs=500))
        elapsed = time.monotonic() - started
        assert error_data(answer)["kind"] in ("api_error", "timeout")
        assert elapsed < 1.5  # 20 attempts with 150 ms waits would take over 3 s
        assert 2 <= len(fake_openai.requests) < 20


async def test_deadline_cuts_a_slow_attempt(d: RawDaemon, fake_openai: FakeOpenAI) -> None:
    await warm_up(d, fake_openai)
    fake_openai.queue(Reply(text="never", delay_s=5))
    started = time.monotonic()
    answer = await d.request("dspex/chat", chat_params(provider="openai", timeoutMs=250))
    assert error_data(answer)["kind"] == "timeout"
    assert time.monotonic() - started < 1.5  # not the fake's 5 s


async def test_stream_fault_before_the_first_byte_is_retried(
    d: RawDaemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(server_error(502), ConnectionReset())
    answer = await d.request(
        "dspex/chat",
        chat_params("streamed after retries", provider="openai", partialResultToken="s"),
    )
    assert answer["result"]["choices"][0]["message"]["content"] == "streamed after retries"
    assert len(fake_openai.requests) == 3


async def test_stream_broken_after_the_first_byte_is_not_retried(
    d: RawDaemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(TruncatedStream(text="partial answer that never ends", chunks=2))
    answer = await d.request("dspex/chat", chat_params(provider="openai", partialResultToken="t"))
    result = answer["result"]
    choice = result["choices"][0]
    assert choice["finishReason"] == "interrupted"
    assert choice["message"]["content"] == "partial answer"[: len(choice["message"]["content"])]
    assert choice["message"]["content"]
    assert result["error"]["kind"] == "network_error"
    assert len(fake_openai.requests) == 1
    partials = [n for n in d.notifications if n["method"] == "$/progress"]
    assert (
        "".join(p["params"]["value"]["delta"]["content"] for p in partials)
        == choice["message"]["content"]
    )
