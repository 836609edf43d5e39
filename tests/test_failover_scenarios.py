"""The fail-over scenario suite (issue 15): ONE long-running daemon, as an editor runs it,
goes through every fault in order. Each scenario uses its own models, and the last checks
that no scenario's state (breaker, rate-limit gate, script) leaked into another's."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import clean_env
from failover_support import (
    COOLDOWN_MS,
    ModelScriptedFake,
    chat,
    env_for,
    fallback,
    scenario_options,
)
from fakes.base import (
    CleanClose,
    ConnectionReset,
    HttpError,
    MalformedEvent,
    Reply,
    Stall,
    TruncatedStream,
)
from fakes.openai_server import openai_error
from raw_daemon import RawDaemon, raw_daemon

pytestmark = pytest.mark.asyncio(loop_scope="module")

_tokens = itertools.count(1)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake() -> AsyncIterator[ModelScriptedFake]:
    fake = ModelScriptedFake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def d(
    tmp_path_factory: pytest.TempPathFactory, fake: ModelScriptedFake
) -> AsyncIterator[RawDaemon]:
    env = env_for(clean_env(tmp_path_factory.mktemp("failover")), fake)
    async with raw_daemon(env, scenario_options(fake)) as daemon:
        yield daemon


def rate_limit(retry_after: str | None = None) -> HttpError:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded", headers)


def server_error(status: int) -> HttpError:
    return openai_error(status, "The server had an error", "server_error")


async def ask(d: RawDaemon, params: dict[str, Any], wait_s: float = 15.0) -> dict[str, Any]:
    answer: dict[str, Any] = await d.request("dspex/chat", params, wait_s=wait_s)
    return answer


async def result_of(d: RawDaemon, params: dict[str, Any]) -> dict[str, Any]:
    answer = await ask(d, params)
    assert "result" in answer, answer
    out: dict[str, Any] = answer["result"]
    return out


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" in answer, answer
    data: dict[str, Any] = answer["error"]["data"]
    return data


async def stream(d: RawDaemon, params: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """A streamed chat: (final result, the chunks in order)."""
    token = f"failover-{next(_tokens)}"
    answer = await ask(d, {**params, "partialResultToken": token})
    assert "result" in answer, answer
    chunks = [
        n["params"]["value"]
        for n in d.notifications
        if n.get("method") == "$/progress" and n["params"].get("token") == token
    ]
    return answer["result"], chunks


def text(result: dict[str, Any]) -> str:
    content: str = result["choices"][0]["message"]["content"]
    return content


def answered_by(result: dict[str, Any], provider: str, model: str) -> None:
    assert result["provider"] == provider, result
    assert result["model"].startswith(model), result


async def health(d: RawDaemon, provider: str = "openai") -> dict[str, Any]:
    report = await d.result("dspex/analytics/health", {"provider": provider})
    entry: dict[str, Any] = report["providers"][0]
    return entry


# -- the scenarios, in order ---------------------------------------------------------------


async def test_01_rate_limited_with_retry_after_is_retried_after_the_wait(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.plan("s01", rate_limit("0.3"))
    started = time.monotonic()
    result = await result_of(d, chat("s01", fallbacks=[fallback("s01-backup")]))
    answered_by(result, "openai", "s01")
    assert time.monotonic() - started >= 0.3
    assert len(fake.posts("s01")) == 2
    assert fake.posts("s01-backup") == []
    assert [a["outcome"] for a in result["attempts"]] == ["answered"]
    assert result["attempts"][0]["requests"] == 2


async def test_02_persistent_429_fails_over(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.always["s02"] = rate_limit()
    result = await result_of(d, chat("s02", fallbacks=[fallback("s02-backup")]))
    answered_by(result, "openai", "s02-backup")
    first, second = result["attempts"]
    assert first["outcome"] == "failed"
    assert first["errorKind"] == "rate_limited"
    assert first["failover"] == "rate_limited"
    assert first["requests"] == 3 == len(fake.posts("s02"))
    assert second["outcome"] == "answered"
    assert any("fail-over" in n for n in result["notices"])


async def test_03_ten_callers_on_a_permanent_429_share_one_gate(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["s03"] = rate_limit("0.1")
    started = time.monotonic()
    answers = await asyncio.gather(*(ask(d, chat("s03")) for _ in range(10)))
    elapsed = time.monotonic() - started
    kinds = [error_of(a)["kind"] for a in answers]
    assert kinds == ["rate_limited"] * 10
    sent = len(fake.posts("s03"))
    assert sent <= 12, sent  # 10 in the first wave, then one probe per retry round
    assert elapsed < 3.0
    # The same storm on a route: every caller fails over instead of failing.
    fake.always["storm-route-a"] = rate_limit("0.1")
    routed = await asyncio.gather(
        *(result_of(d, chat("route:storm", provider="openai")) for _ in range(10))
    )
    for result in routed:
        answered_by(result, "groq", "storm-route-b")
    assert len(fake.posts("storm-route-a")) <= 12


async def test_03b_a_long_retry_after_refuses_later_callers_at_once(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["s03b"] = rate_limit("120")  # over maxRetryAfterMs (60 s)
    first = error_of(await ask(d, chat("s03b")))
    assert (first["kind"], first["retryAfterMs"]) == ("rate_limited", 120_000)
    started = time.monotonic()
    later = error_of(await ask(d, chat("s03b")))
    assert time.monotonic() - started < 1.0
    assert later["kind"] == "rate_limited"
    assert later["details"]["gated"] is True
    assert later["retryAfterMs"] > 100_000
    assert len(fake.posts("s03b")) == 1  # the later caller sent nothing
    result = await result_of(d, chat("s03b", fallbacks=[fallback("s03b-backup")]))
    answered_by(result, "openai", "s03b-backup")
    assert result["attempts"][0]["requests"] == 0
    assert len(fake.posts("s03b")) == 1


async def test_04_500_once_is_retried_on_the_same_target(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.plan("s04", server_error(500))
    result = await result_of(d, chat("s04", fallbacks=[fallback("s04-backup")]))
    answered_by(result, "openai", "s04")
    assert len(fake.posts("s04")) == 2
    assert fake.posts("s04-backup") == []


async def test_05_persistent_503_fails_over(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.always["s05"] = server_error(503)
    result = await result_of(d, chat("s05", fallbacks=[fallback("s05-backup", "groq")]))
    answered_by(result, "groq", "s05-backup")
    first = result["attempts"][0]
    assert (first["errorKind"], first["failover"], first["requests"]) == (
        "api_error",
        "server_error",
        3,
    )


async def test_06_reset_before_headers_is_retried(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.plan("s06", ConnectionReset())
    result = await result_of(d, chat("s06"))
    answered_by(result, "openai", "s06")
    assert len(fake.posts("s06")) == 2


async def test_07_reset_after_200_is_never_resent(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.plan("s07", ConnectionReset(after_headers=True))
    data = error_of(await ask(d, chat("s07")))
    assert data["kind"] == "network_error"
    assert data["details"]["sentAfterAnswer"] is True
    assert len(fake.posts("s07")) == 1


async def test_08_no_response_at_all_fails_over_within_the_deadline(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["s08"] = Reply(text="never", delay_s=30.0)
    started = time.monotonic()
    result = await result_of(d, chat("s08", fallbacks=[fallback("s08-backup")], timeoutMs=3000))
    assert time.monotonic() - started < 3.0
    answered_by(result, "openai", "s08-backup")
    assert result["attempts"][0]["errorKind"] == "timeout"
    assert result["attempts"][0]["failover"] == "timeout"


async def test_09_slow_first_token_fails_over_within_the_deadline(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["s09"] = Reply(text="too late", delay_s=30.0)
    started = time.monotonic()
    result, chunks = await stream(
        d, chat("s09", text="on time", fallbacks=[fallback("s09-backup")], timeoutMs=2000)
    )
    assert time.monotonic() - started < 2.0
    answered_by(result, "openai", "s09-backup")
    assert text(result) == "on time"
    assert "".join(c["delta"].get("content") or "" for c in chunks) == "on time"


async def test_10_stream_cut_after_n_tokens_is_rescued_with_the_full_answer(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    partial_source = "alpha beta gamma delta epsilon zeta"
    fake.plan("s10", TruncatedStream(text=partial_source, chunks=3))
    result, chunks = await stream(
        d, chat("s10", text=" and the rest", fallbacks=[fallback("s10-backup", "lmstudio")])
    )
    answered_by(result, "lmstudio", "s10-backup")
    assert result["choices"][0]["finishReason"] == "stop"
    assert result.get("error") is None
    # lmstudio continues a prefill: it was given the partial text and continued it.
    sent = fake.posts("s10-backup")[0].body["messages"]
    partial = sent[-1]["content"]
    assert sent[-1]["role"] == "assistant"
    assert partial and partial_source.startswith(partial)
    assert text(result) == partial + " and the rest"
    marks = [c["failover"] for c in chunks if c.get("failover")]
    assert [(m["mode"], m["provider"], m["reason"]) for m in marks] == [
        ("continue", "lmstudio", "network_error")
    ]
    streamed = "".join(c["delta"].get("content") or "" for c in chunks)
    assert streamed == text(result)
    assert [a["outcome"] for a in result["attempts"]] == ["interrupted", "answered"]


async def test_11_stream_stall_is_rescued(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.plan("s11", Stall(text="one two three four five six", chunks=2, stall_s=5.0))
    started = time.monotonic()
    result, _ = await stream(
        d, chat("s11", text="rescued", fallbacks=[fallback("s11-backup", "groq")])
    )
    assert time.monotonic() - started < 3.0
    answered_by(result, "groq", "s11-backup")
    assert text(result) == "rescued"
    assert result["attempts"][0]["outcome"] == "interrupted"


async def test_12_malformed_sse_chunk_keeps_every_token(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.plan("s12", MalformedEvent(text="one two three four five six", at=2))
    result, _ = await stream(d, chat("s12", fallbacks=[fallback("s12-backup")]))
    answered_by(result, "openai", "s12")
    assert text(result) == "one two three four five six"
    assert result["notices"]
    assert fake.posts("s12-backup") == []


async def test_13_stream_without_done_is_complete(d: RawDaemon, fake: ModelScriptedFake) -> None:
    fake.plan("s13", CleanClose(text="one two three four five six"))
    result, _ = await stream(d, chat("s13", fallbacks=[fallback("s13-backup")]))
    answered_by(result, "openai", "s13")
    assert text(result) == "one two three four five six"
    assert result["choices"][0]["finishReason"] == "stop"
    assert result.get("error") is None
    assert fake.posts("s13-backup") == []


def context_exceeded() -> HttpError:
    return openai_error(
        400,
        "This model's maximum context length is 16000 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
    )


async def test_14_context_length_fails_over_only_to_a_larger_window(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["ctx-flat-a"] = context_exceeded()
    data = error_of(await ask(d, chat("route:ctx-flat")))
    assert data["kind"] == "invalid_messages"
    assert len(fake.posts("ctx-flat-a")) == 1
    assert fake.posts("ctx-flat-b") == []  # its window is smaller: skipped
    assert [a["outcome"] for a in data["details"]["failover"]] == ["failed", "skipped"]

    fake.always["ctx-up-a"] = context_exceeded()
    result = await result_of(d, chat("route:ctx-up"))
    answered_by(result, "groq", "ctx-up-c")
    assert fake.posts("ctx-up-b") == []
    assert [a["outcome"] for a in result["attempts"]] == ["failed", "skipped", "answered"]
    assert result["attempts"][0]["failover"] == "context_length"


async def test_15_content_filter_is_one_attempt_without_fail_over(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.plan("s15", Reply(text="", finish_reason="content_filter"))
    result = await result_of(d, chat("s15", fallbacks=[fallback("s15-backup")]))
    answered_by(result, "openai", "s15")
    assert result["choices"][0]["finishReason"] == "content_filter"
    assert len(result["attempts"]) == 1
    # Azure's form: a 400 whose code is content_filter.
    fake.plan("s15b", openai_error(400, "filtered", "invalid_request_error", "content_filter"))
    data = error_of(await ask(d, chat("s15b", fallbacks=[fallback("s15-backup")])))
    assert data["kind"] == "invalid_messages"
    assert len(fake.posts("s15b")) == 1
    assert fake.posts("s15-backup") == []


async def test_16_fallback_that_rejects_prefill_restarts(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.plan("s16", TruncatedStream(text="the first answer that breaks", chunks=3))
    result, chunks = await stream(
        d, chat("s16", text="a whole new answer", fallbacks=[fallback("s16-backup", "groq")])
    )
    answered_by(result, "groq", "s16-backup")
    sent = fake.posts("s16-backup")[0].body["messages"]
    assert [m["role"] for m in sent] == ["user"]  # no prefill
    assert text(result) == "a whole new answer"
    marks = [c["failover"] for c in chunks if c.get("failover")]
    assert [m["mode"] for m in marks] == ["restart"]
    after = chunks[next(i for i, c in enumerate(chunks) if c.get("failover")) :]
    assert "".join(c["delta"].get("content") or "" for c in after) == "a whole new answer"
    assert any("fail-over" in n for n in result["notices"])


async def test_17_flapping_primary_opens_closes_and_comes_back(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    params = chat("s17", fallbacks=[fallback("s17-backup")])
    fake.always["s17"] = server_error(503)
    result = await result_of(d, params)  # 3 failures: the breaker opens
    answered_by(result, "openai", "s17-backup")
    entry = await health(d)
    assert entry["breakers"]["s17"] == "open"
    assert entry["breaker"] == "open"
    assert "circuit_open" in [a["cause"] for a in entry["anomalies"]]
    assert entry["breakers"]["s17-backup"] == "closed"  # per model, not per provider
    # While open, the primary is not even asked.
    sent = len(fake.posts("s17"))
    result = await result_of(d, params)
    answered_by(result, "openai", "s17-backup")
    assert result["attempts"][0]["errorKind"] == "circuit_open"
    assert len(fake.posts("s17")) == sent
    # The primary recovers: half-open probes let it back within one cool-down.
    del fake.always["s17"]
    recovered = time.monotonic()
    back_after = None
    for _ in range(200):
        result = await result_of(d, params)
        if result["model"].startswith("s17-backup"):
            await asyncio.sleep(0.02)
            continue
        back_after = time.monotonic() - recovered
        break
    assert back_after is not None
    print(f"primary back {back_after * 1000:.0f} ms after it recovered (cool-down {COOLDOWN_MS})")
    assert back_after <= 2 * COOLDOWN_MS / 1000, back_after
    await result_of(d, params)  # the second probe closes it
    assert (await health(d))["breakers"]["s17"] == "closed"
    # ...and it flaps again: open again after the next outage.
    fake.always["s17"] = server_error(503)
    result = await result_of(d, params)
    answered_by(result, "openai", "s17-backup")
    assert (await health(d))["breakers"]["s17"] == "open"
    del fake.always["s17"]


async def test_18_failover_accounting_names_the_answer_and_every_attempt(
    d: RawDaemon, fake: ModelScriptedFake
) -> None:
    fake.always["s18"] = server_error(502)
    fake.plan("s18-second", TruncatedStream(text="cut short here", chunks=2))
    result, _ = await stream(
        d,
        chat(
            "s18",
            fallbacks=[fallback("s18-second", "groq"), fallback("s18-third", "lmstudio")],
        ),
    )
    answered_by(result, "lmstudio", "s18-third")
    attempts = result["attempts"]
    assert [(a["provider"], a["outcome"]) for a in attempts] == [
        ("openai", "failed"),
        ("groq", "interrupted"),
        ("lmstudio", "answered"),
    ]
    assert [a["requests"] for a in attempts] == [3, 1, 1]
    assert attempts[-1]["usage"] == result["usage"]
    assert attempts[-1]["usage"]["totalTokens"] > 0
    for a in attempts:
        assert a["latencyMs"] >= 0
        assert a["model"].startswith("s18")


async def test_19_no_state_leaked_across_models(d: RawDaemon, fake: ModelScriptedFake) -> None:
    entry = await health(d)
    open_now = sorted(m for m, state in entry["breakers"].items() if state == "open")
    # Only the models whose faults went on (and tripped) are open.
    assert set(open_now) <= {"s05", "s08", "s09", "s17", "s18"}, open_now
    for model in ("s01", "s02-backup", "s03-fresh", "s04", "s06", "s15", "s17-backup"):
        fake.requests.clear()
        result = await result_of(d, chat(model))
        answered_by(result, "openai", model)
        assert len(fake.posts(model)) == 1
    assert d.alive()
