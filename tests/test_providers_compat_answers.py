"""Chat Completions answers in every dialect, plain and streamed, through the daemon:
reasoning (reasoning_content, reasoning, Mistral thinking chunks, OpenRouter
reasoning_details with signatures), refusals, Groq's executed tools, logprobs, n choices,
and an answer's reasoning sent back the way each API takes it."""

from __future__ import annotations

from typing import Any

import pytest
from compat_support import d, fakes, fresh
from daemon import Daemon
from fakes.base import Refusal, Reply, ServerTool, Thinking
from fakes.openai_server import FakeOpenAI
from provider_checks import chat, stream_chat, streamed_text

__all__ = ["d", "fakes", "fresh"]  # module-scoped fixtures used here
pytestmark = pytest.mark.asyncio(loop_scope="module")

ASK = [{"role": "user", "content": "What is 2+2?"}]
# provider -> the model asked for (none of them is refused reasoning by the catalog)
MODELS = {
    "openai": "deepseek-reasoner",  # any compatible server behind the openai row
    "groq": "openai/gpt-oss-20b",
    "mistral": "magistral-medium-latest",
    "openrouter": "anthropic/claude-sonnet-4.5",
    "xai": "grok-3-mini",
    "lmstudio": "openai/gpt-oss-20b",
}


async def ask(
    d: Daemon, provider: str, stream: bool, **params: Any
) -> tuple[dict[str, Any], list[Any]]:
    params.setdefault("messages", ASK)
    params.setdefault("model", MODELS.get(provider))
    if stream:
        return await stream_chat(d, provider, **params)
    return await chat(d, provider, **params), []


def message_of(result: dict[str, Any], index: int = 0) -> dict[str, Any]:
    choice: dict[str, Any] = result["choices"][index]
    return choice["message"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("provider", list(MODELS))
async def test_each_reasoning_dialect_is_a_reasoning_part_before_the_text(
    d: Daemon, fakes: dict[str, FakeOpenAI], provider: str, stream: bool
) -> None:
    fakes[provider].queue(
        Reply(blocks=[Thinking("Two and two."), "Four."], reasoning_tokens=3, completion_tokens=9)
    )
    result, partials = await ask(d, provider, stream)
    message = message_of(result)
    assert message["content"] == "Four."
    assert message["reasoning"] == "Two and two."
    assert [p["type"] for p in message["parts"]] == ["reasoning", "text"]
    assert message["parts"][0]["provider"] == provider
    assert result["usage"]["reasoningTokens"] == 3
    if stream:
        assert "".join(p["delta"].get("reasoning") or "" for p in partials) == "Two and two."
        assert streamed_text(partials) == "Four."
        # Reasoning comes first: in an earlier chunk, or in the same one (a delta applies
        # reasoning before content).
        first = next(
            p for p in partials if p["delta"].get("reasoning") or p["delta"].get("content")
        )
        assert first["delta"].get("reasoning")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_mistral_thinking_chunks_are_read_and_go_back_as_chunks(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["mistral"].queue(Reply(blocks=[Thinking("Cross at the light."), "Use the crossing."]))
    result, _ = await ask(d, "mistral", stream)
    answer = message_of(result)
    assert answer["content"] == "Use the crossing."
    history = [*ASK, answer, {"role": "user", "content": "And a river?"}]
    await ask(d, "mistral", False, messages=history)
    sent = fakes["mistral"].requests[-1].body
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "Cross at the light."}]},
            {"type": "text", "text": "Use the crossing."},
        ],
    }
    if stream:
        assert "stream_options" not in fakes["mistral"].requests[-2].body
        assert result["usage"]["promptTokens"] == 11  # sent in the last chunk, unasked


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_openrouter_reasoning_details_keep_their_signature_and_go_back_unchanged(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["openrouter"].queue(
        Reply(
            blocks=[Thinking("Plan the call.", signature="sig-Abc123=="), "Calling."],
            tool_calls=[{"id": "call_1", "name": "lookup", "arguments": {"q": "x"}}],
        )
    )
    result, _ = await ask(d, "openrouter", stream)
    answer = message_of(result)
    reasoning = answer["parts"][0]
    assert reasoning["text"] == "Plan the call."
    assert reasoning["signature"] == "sig-Abc123=="
    assert reasoning["format"] == "anthropic-claude-v1"
    history = [
        *ASK,
        answer,
        {"role": "tool", "toolCallId": "call_1", "content": '{"found": true}'},
    ]
    await ask(d, "openrouter", False, messages=history)
    sent = fakes["openrouter"].requests[-1].body["messages"][1]
    assert sent["content"] == "Calling."
    assert sent["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "Plan the call.",
            "signature": "sig-Abc123==",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]
    assert sent["tool_calls"][0]["id"] == "call_1"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_openrouter_encrypted_reasoning_is_opaque_data_sent_back(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["openrouter"].queue(Reply(blocks=[Thinking(redacted="gAAAA-opaque"), "Hello."]))
    result, _ = await ask(d, "openrouter", stream)
    answer = message_of(result)
    assert answer["parts"][0] == {
        "type": "reasoning",
        "summary": False,
        "data": "gAAAA-opaque",
        "format": "anthropic-claude-v1",
        "provider": "openrouter",
    }
    assert "reasoning" not in answer
    await ask(d, "openrouter", False, messages=[*ASK, answer, *ASK])
    details = fakes["openrouter"].requests[-1].body["messages"][1]["reasoning_details"]
    assert details == [
        {
            "type": "reasoning.encrypted",
            "data": "gAAAA-opaque",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]


async def test_reasoning_is_left_out_where_the_api_takes_none_back(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    fakes["groq"].queue(Reply(blocks=[Thinking("Hmm."), "Four."]))
    answer = message_of((await ask(d, "groq", False))[0])
    await ask(d, "groq", False, messages=[*ASK, answer, *ASK])
    assert fakes["groq"].requests[-1].body["messages"][1] == {
        "role": "assistant",
        "content": "Four.",
    }


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_a_refusal_is_a_refusal_part_and_goes_back_as_refusal(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["openai"].queue(Reply(blocks=[Refusal("I can't help with that.")]))
    result, partials = await ask(d, "openai", stream, model="gpt-4o-mini")
    answer = message_of(result)
    assert answer["parts"] == [{"type": "refusal", "text": "I can't help with that."}]
    assert answer.get("content") is None
    if stream:
        assert (
            "".join(p["delta"].get("refusal") or "" for p in partials) == answer["parts"][0]["text"]
        )
    await ask(d, "openai", False, model="gpt-4o-mini", messages=[*ASK, answer, *ASK])
    sent = fakes["openai"].requests[-1].body["messages"][1]
    assert sent == {"role": "assistant", "content": None, "refusal": "I can't help with that."}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_groq_executed_tools_are_server_tool_parts_not_calls(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    search = ServerTool(
        id="ignored", name="search", input={"query": "weather SF"}, output="Sunny, 17C"
    )
    fakes["groq"].queue(Reply(blocks=[Thinking("Search first."), search, "Sunny."]))
    result, partials = await ask(d, "groq", stream, model="groq/compound")
    answer = message_of(result)
    assert "toolCalls" not in answer
    assert [p["type"] for p in answer["parts"]] == ["reasoning", "server_tool", "text"]
    tool = answer["parts"][1]
    assert (tool["name"], tool["input"], tool["resultType"]) == (
        "web_search",
        {"query": "weather SF"},
        "search",
    )
    assert tool["output"] == {"output": "Sunny, 17C"}
    if stream:
        whole = [p for c in partials for p in c["delta"].get("parts") or []]
        assert [p["type"] for p in whole] == ["server_tool"]  # once, when its output came


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_logprobs_are_parsed_per_token_with_alternatives(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["openai"].queue(Reply(text="Four it is"))
    result, partials = await ask(
        d, "openai", stream, model="gpt-4o-mini", logprobs=True, topLogprobs=2
    )
    sent = fakes["openai"].requests[-1].body
    assert (sent["logprobs"], sent["top_logprobs"]) == (True, 2)
    tokens = result["choices"][0]["logprobs"]
    assert "".join(t["token"] for t in tokens) == "Four it is"
    assert all(len(t["topLogprobs"]) == 2 and t["logprob"] == -0.25 for t in tokens)
    assert tokens[0]["bytes"] == list(b"Four")
    if stream:
        assert any(p["delta"].get("logprobs") for p in partials)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_n_choices_come_back_in_order(
    d: Daemon, fakes: dict[str, FakeOpenAI], stream: bool
) -> None:
    fakes["openai"].queue(Reply(blocks=[Thinking("t"), "Answer"]))
    result, partials = await ask(d, "openai", stream, model="gpt-4o-mini", n=3)
    assert fakes["openai"].requests[-1].body["n"] == 3
    contents = [c["message"]["content"] for c in result["choices"]]
    assert contents == ["Answer", "Answer #1", "Answer #2"]
    assert [c["index"] for c in result["choices"]] == [0, 1, 2]
    assert all(c["message"]["reasoning"] == "t" for c in result["choices"])
    if stream:
        assert {p.get("index", 0) for p in partials} == {0, 1, 2}


async def test_usage_reports_cached_reads_and_cache_writes(
    d: Daemon, fakes: dict[str, FakeOpenAI]
) -> None:
    fakes["openrouter"].queue(
        Reply(text="ok", prompt_tokens=1200, cached_tokens=1024, cache_write_tokens=100)
    )
    result, _ = await ask(d, "openrouter", False, model="openai/gpt-4o-mini")
    usage = result["usage"]
    assert (usage["promptTokens"], usage["cachedTokens"], usage["cacheWriteTokens"]) == (
        1200,
        1024,
        100,
    )
