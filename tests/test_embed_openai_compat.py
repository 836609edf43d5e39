"""Embeddings on the Chat Completions family: POST {base}/embeddings."""

from __future__ import annotations

import pytest
from daemon import Daemon
from fakes.openai_server import FakeOpenAI, openai_error
from pygls.exceptions import JsonRpcException


async def test_embeddings_are_returned_in_input_order_with_usage(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    inputs = ["first text", "second", "third one here"]
    result = await openai_daemon.request(
        "dspex/embed", {"provider": "openai", "inputs": inputs, "dimensions": 12}
    )
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/embeddings"
    assert sent.body == {
        "model": "text-embedding-3-small",
        "input": inputs,
        "encoding_format": "float",
        "dimensions": 12,
    }
    assert sent.headers["Authorization"] == f"Bearer {fake_openai.api_key}"
    # The fake answers in reverse order: the adapter must sort by `index`.
    single = await openai_daemon.request(
        "dspex/embed", {"provider": "openai", "inputs": [inputs[2]], "dimensions": 12}
    )
    assert result["embeddings"][2] == single["embeddings"][0]
    assert result["dimensions"] == 12
    assert result["usage"] == {"promptTokens": 6, "totalTokens": 6}


async def test_embedding_errors_use_the_chat_completions_error_body(
    openai_daemon: Daemon, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded"))
    with pytest.raises(JsonRpcException) as info:
        await openai_daemon.request("dspex/embed", {"provider": "openai", "inputs": ["x"]})
    data = info.value.data  # type: ignore[attr-defined]
    assert data["kind"] == "rate_limited" and data["retryable"] is True
    assert data["details"] == {"code": "rate_limit_exceeded"}
