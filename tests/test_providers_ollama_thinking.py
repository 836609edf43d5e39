"""Ollama's thinking and the options it documents, through the daemon against the fake:
`think` (on/off, or a level for gpt-oss), `message.thinking` plain and streamed and sent
back, penalties in `options`, logprobs; the rest refused before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from daemon import SINGLE_ATTEMPT, Daemon, clean_env, start_daemon
from fakes.base import Reply, Thinking
from fakes.ollama_server import FakeOllama
from provider_cases import rpc_error, user_chat

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake() -> AsyncIterator[FakeOllama]:
    async with FakeOllama() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ollama(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeOllama
) -> AsyncIterator[Daemon]:
    env = clean_env(tmp_path_factory.mktemp("ollama-think"), OLLAMA_HOST=fake.base_url)
    async with start_daemon(env, initialization_options=SINGLE_ATTEMPT) as d:
        yield d


@pytest.fixture(autouse=True)
def fresh(fake: FakeOllama) -> None:
    fake.reset()


def chat(model: str = "qwen3:8b", **extra: Any) -> dict[str, Any]:
    return user_chat("ollama", "What is 17 * 3?", model=model, **extra)


@pytest.mark.parametrize(
    ("model", "reasoning", "think"),
    [
        ("qwen3:8b", {}, True),
        ("deepseek-r1", {"budgetTokens": 0}, False),
        ("gpt-oss:20b", {"effort": "high"}, "high"),
        ("gpt-oss", {}, True),
    ],
)
async def test_reasoning_is_sent_as_think(
    ollama: Daemon, fake: FakeOllama, model: str, reasoning: dict[str, Any], think: bool | str
) -> None:
    await ollama.request("dspex/chat", chat(model, reasoning=reasoning))
    assert fake.requests[-1].body["think"] == think


@pytest.mark.parametrize(
    ("model", "reasoning", "says"),
    [
        ("qwen3:8b", {"effort": "low"}, "no effort levels"),
        ("gpt-oss:20b", {"budgetTokens": 0}, "always thinks"),
        ("qwen3", {"budgetTokens": 512}, "no reasoning budget"),
        ("llama3.2", {}, "cannot reason"),
    ],
)
async def test_reasoning_ollama_cannot_honour_is_refused(
    ollama: Daemon, fake: FakeOllama, model: str, reasoning: dict[str, Any], says: str
) -> None:
    data = await rpc_error(ollama, "dspex/chat", chat(model, reasoning=reasoning))
    assert data["kind"] == "invalid_messages" and says in data["message"]
    assert fake.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_thinking_is_a_reasoning_part_and_goes_back_as_thinking(
    ollama: Daemon, fake: FakeOllama, stream: bool
) -> None:
    fake.queue(Reply(blocks=[Thinking("17 times 3 is 51."), "51"]))
    params = chat(reasoning={}, **({"partialResultToken": "think"} if stream else {}))
    result = await ollama.request("dspex/chat", params)
    answer = result["choices"][0]["message"]
    assert (answer["content"], answer["reasoning"]) == ("51", "17 times 3 is 51.")
    assert [p["type"] for p in answer["parts"]] == ["reasoning", "text"]
    if stream:
        chunks = ollama.partials["think"]
        assert "".join(c["delta"].get("reasoning") or "" for c in chunks) == "17 times 3 is 51."
        assert fake.requests[-1].body["stream"] is True
    history = [{"role": "user", "content": "What is 17 * 3?"}, answer]
    history.append({"role": "user", "content": "And times 2?"})
    await ollama.request(
        "dspex/chat", {"provider": "ollama", "model": "qwen3:8b", "messages": history}
    )
    assert fake.requests[-1].body["messages"][1] == {
        "role": "assistant",
        "content": "51",
        "thinking": "17 times 3 is 51.",
    }


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_logprobs_and_penalties_are_sent_and_logprobs_read(
    ollama: Daemon, fake: FakeOllama, stream: bool
) -> None:
    fake.queue(Reply(text="Fifty one"))
    params = chat(
        logprobs=True,
        topLogprobs=3,
        frequencyPenalty=0.3,
        presencePenalty=0.1,
        **({"partialResultToken": "lp"} if stream else {}),
    )
    result = await ollama.request("dspex/chat", params)
    body = fake.requests[-1].body
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)
    assert body["options"]["frequency_penalty"] == 0.3
    assert body["options"]["presence_penalty"] == 0.1
    tokens = result["choices"][0]["logprobs"]
    assert "".join(t["token"] for t in tokens) == "Fifty one"
    assert all(len(t["topLogprobs"]) == 3 for t in tokens)
    if stream:
        assert any(c["delta"].get("logprobs") for c in ollama.partials["lp"])


@pytest.mark.parametrize(
    ("params", "unsupported"),
    [
        ({"n": 2}, ["n"]),
        ({"user": "u-1", "metadata": {"a": "b"}}, ["user", "metadata"]),
        ({"parallelToolCalls": True}, ["parallelToolCalls"]),
    ],
)
async def test_options_ollama_lacks_are_refused(
    ollama: Daemon, fake: FakeOllama, params: dict[str, Any], unsupported: list[str]
) -> None:
    data = await rpc_error(ollama, "dspex/chat", chat(**params))
    assert data["kind"] == "invalid_messages"
    assert data["details"]["unsupported"] == unsupported
    assert fake.requests == []
