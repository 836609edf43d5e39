"""Stream recovery: a stream that breaks after text reached the client is resumed once with
the partial answer as an assistant prefix where the provider allows it, else returned as
`interrupted` with the error kind."""

from __future__ import annotations

from typing import Any

from fakes.base import Reply, TruncatedStream
from fakes.openai_server import FakeOpenAI
from raw_daemon import RawDaemon, raw_daemon
from reliability_support import chat_params, openai_env, options

SENTENCE = "The quick brown fox jumps over the lazy dog."


def streamed_text(d: RawDaemon, token: str) -> str:
    return "".join(
        n["params"]["value"]["delta"].get("content") or ""
        for n in d.notifications
        if n["method"] == "$/progress" and n["params"]["token"] == token
    )


def mock_options(errors: list[dict[str, Any]], prefill: bool | None = None) -> dict[str, Any]:
    mock: dict[str, Any] = {"mode": "fixed", "reply": SENTENCE, "chunkSize": 8, "errors": errors}
    if prefill is not None:
        mock["assistantPrefill"] = prefill
    return options(providers={"mock": mock})


BREAK = {
    "kind": "network_error",
    "message": "connection reset",
    "afterChunks": 2,
    "retryable": True,
}


async def test_mock_stream_is_resumed_with_an_assistant_prefix(env: dict[str, str]) -> None:
    async with raw_daemon(env, mock_options([{**BREAK, "times": 1}])) as d:
        result = await d.result("dspex/chat", chat_params(provider="mock", partialResultToken="r"))
        choice = result["choices"][0]
        assert choice["message"]["content"] == SENTENCE
        assert choice["finishReason"] == "stop"
        assert "error" not in result
        assert streamed_text(d, "r") == SENTENCE  # each piece sent once, in order
        stats = await d.result("dspex/stats", {"provider": "mock"})
        assert stats["providers"][0]["streamsResumed"] == 1
        assert stats["providers"][0]["requestsSuccessful"] == 1


async def test_resume_is_tried_once_then_the_partial_answer_is_returned(
    env: dict[str, str],
) -> None:
    async with raw_daemon(env, mock_options([{**BREAK, "times": 2}])) as d:
        result = await d.result("dspex/chat", chat_params(provider="mock", partialResultToken="r"))
        choice = result["choices"][0]
        assert choice["finishReason"] == "interrupted"
        assert choice["message"]["content"] == SENTENCE[:32]  # 2 chunks + 2 resumed chunks
        assert result["error"]["kind"] == "network_error"
        assert streamed_text(d, "r") == SENTENCE[:32]
        stats = await d.result("dspex/stats", {"provider": "mock"})
        assert stats["providers"][0]["requestsFailed"] == 1


async def test_no_resume_without_prefill_support(env: dict[str, str]) -> None:
    async with raw_daemon(env, mock_options([{**BREAK, "times": 1}], prefill=False)) as d:
        result = await d.result("dspex/chat", chat_params(provider="mock", partialResultToken="r"))
        assert result["choices"][0]["finishReason"] == "interrupted"
        assert result["choices"][0]["message"]["content"] == SENTENCE[:16]
        assert result["error"]["kind"] == "network_error"


async def test_openai_compat_stream_resumes_when_prefill_is_enabled(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    opts = options(providers={"openai": {"timeoutMs": 2000, "assistantPrefill": True}})
    async with raw_daemon(openai_env(env, fake_openai), opts) as d:
        fake_openai.queue(
            TruncatedStream(text="partial answer that never ends", chunks=2),
            Reply(text=" that does end."),
        )
        result = await d.result(
            "dspex/chat", chat_params("go", provider="openai", partialResultToken="o")
        )
        assert len(fake_openai.requests) == 2
        resumed = fake_openai.requests[1].body["messages"]
        partial = resumed[-1]["content"]
        assert resumed[-1]["role"] == "assistant" and partial
        assert "partial answer that never ends".startswith(partial)
        content = result["choices"][0]["message"]["content"]
        assert content == partial + " that does end."
        assert streamed_text(d, "o") == content
        # Billing honesty: both exchanges' usage is counted.
        assert result["usage"]["completionTokens"] == 7


async def test_openai_stream_without_prefill_is_interrupted(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options()) as d:
        fake_openai.queue(TruncatedStream(chunks=3))
        result = await d.result(
            "dspex/chat", chat_params(provider="openai", partialResultToken="x")
        )
        assert result["choices"][0]["finishReason"] == "interrupted"
        assert result["error"]["kind"] == "network_error"
        assert len(fake_openai.requests) == 1
