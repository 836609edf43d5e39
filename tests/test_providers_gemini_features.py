"""Gemini server-side tools, prompt caching, request options, several candidates,
logprobs and document/audio input through the daemon against the fake (plain and
streamed)."""

from __future__ import annotations

from typing import Any

import pytest
from daemon import Daemon
from fakes.base import Reply, ServerTool, Thinking
from fakes.gemini_server import FakeGemini
from gemini_support import G3, P, ask, d, fake, fresh_fake, sent
from provider_checks import WEATHER_TOOL, chat, chat_error, stream_chat

ASK = {"role": "user", "content": "What is 2+2?"}
CODE = ServerTool(
    id="code-1",
    name="code_execution",
    input={"language": "PYTHON", "code": "print(2 + 2)"},
    output={"outcome": "OUTCOME_OK", "output": "4\n"},
    result_type="codeExecutionResult",
)
GROUNDING = {
    "groundingChunks": [{"web": {"uri": "https://example.com/paris", "title": "example.com"}}],
    "groundingSupports": [
        {"segment": {"endIndex": 15, "text": "Paris is sunny."}, "groundingChunkIndices": [0]}
    ],
}
pytestmark = pytest.mark.asyncio(loop_scope="module")
__all__ = ["d", "fake", "fresh_fake"]  # module-scoped fixtures used here


async def test_server_tools_map_to_gemini_tool_declarations(d: Daemon, fake: FakeGemini) -> None:
    server_tools = [
        {"name": "web_search"},
        {"name": "code_execution"},
        {"name": "url_context"},
        {"name": "file_search", "config": {"fileSearchStoreNames": ["fileSearchStores/x"]}},
    ]
    await chat(d, P, model=G3, serverTools=server_tools, tools=[WEATHER_TOOL])
    body = sent(fake)
    assert body["tools"][1:] == [
        {"googleSearch": {}},
        {"codeExecution": {}},
        {"urlContext": {}},
        {"fileSearch": {"fileSearchStoreNames": ["fileSearchStores/x"]}},
    ]
    assert body["toolConfig"] == {"includeServerSideToolInvocations": True}


async def test_gemini_2_5_gets_server_tools_without_invocation_parts(
    d: Daemon, fake: FakeGemini
) -> None:
    await chat(d, P, model="gemini-2.5-flash", serverTools=[{"name": "web_search"}])
    assert sent(fake)["tools"] == [{"googleSearch": {}}]
    assert "toolConfig" not in sent(fake)


async def test_a_server_tool_gemini_lacks_is_refused(d: Daemon, fake: FakeGemini) -> None:
    data = await chat_error(d, P, serverTools=[{"name": "mcp"}])
    assert data["kind"] == "invalid_messages"
    assert "'mcp'" in data["message"]
    assert fake.requests == []


@pytest.mark.parametrize("streamed", [False, True])
async def test_code_execution_is_a_server_tool_part_between_the_texts(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    fake.queue(Reply(blocks=["Let me compute.", CODE, "It is 4."]))
    result = await ask(d, streamed, messages=[ASK], serverTools=[{"name": "code_execution"}])
    message = result["choices"][0]["message"]
    assert message["content"] == "Let me compute.It is 4."
    assert "toolCalls" not in message
    assert message["parts"] == [
        {"type": "text", "text": "Let me compute."},
        {
            "type": "server_tool",
            "id": "code-1",
            "name": "code_execution",
            "input": {"language": "PYTHON", "code": "print(2 + 2)"},
            "output": {"outcome": "OUTCOME_OK", "output": "4\n"},
            "resultType": "codeExecutionResult",
            "isError": False,
            "provider": P,
        },
        {"type": "text", "text": "It is 4."},
    ]
    assert result["choices"][0]["finishReason"] == "stop"


async def test_code_execution_parts_go_back_as_they_came(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(Reply(blocks=[Thinking("Compute it.", "sig-code"), CODE, "It is 4."]))
    first = await chat(d, P, messages=[ASK], serverTools=[{"name": "code_execution"}])
    answer = first["choices"][0]["message"]
    history = [ASK, answer, {"role": "user", "content": "Times 3?"}]
    await chat(d, P, messages=history, serverTools=[{"name": "code_execution"}])
    assert sent(fake)["contents"][1] == {
        "role": "model",
        "parts": [
            {
                "executableCode": {"language": "PYTHON", "code": "print(2 + 2)", "id": "code-1"},
                "thoughtSignature": "sig-code",
            },
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "4\n", "id": "code-1"}},
            {"text": "It is 4."},
        ],
    }


@pytest.mark.parametrize("streamed", [False, True])
async def test_search_grounding_is_a_web_search_part_after_the_answer(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    grounding = ServerTool(
        id="g",
        name="web_search",
        input={"queries": ["paris weather today"]},
        output=GROUNDING,
        result_type="groundingMetadata",
    )
    fake.queue(Reply(blocks=["Paris is sunny.", grounding]))
    result = await ask(d, streamed, serverTools=[{"name": "web_search"}])
    message = result["choices"][0]["message"]
    assert message["content"] == "Paris is sunny."
    [text, search] = message["parts"]
    assert text == {"type": "text", "text": "Paris is sunny."}
    assert search["name"] == "web_search"
    assert search["input"] == {"queries": ["paris weather today"]}
    assert search["output"] == {"webSearchQueries": ["paris weather today"], **GROUNDING}
    assert search["resultType"] == "groundingMetadata"

    # Metadata, not content: it is not sent back.
    history = [{"role": "user", "content": "Weather?"}, message, ASK]
    await chat(d, P, messages=history)
    assert sent(fake)["contents"][1] == {"role": "model", "parts": [{"text": "Paris is sunny."}]}


@pytest.mark.parametrize("streamed", [False, True])
async def test_gemini_3_search_invocations_are_parsed_and_sent_back_signed(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    search = ServerTool(
        id="srch-1",
        name="web_search",
        input={"queries": ["paris weather"]},
        output={"search_suggestions": "<div>chips</div>"},
        result_type="toolResponse",
    )
    fake.queue(Reply(blocks=[Thinking("Search first.", "sig-s"), search, "Sunny."]))
    first = await ask(d, streamed, model=G3, serverTools=[{"name": "web_search"}])
    message = first["choices"][0]["message"]
    tool = message["parts"][1]
    assert (tool["type"], tool["id"], tool["name"]) == ("server_tool", "srch-1", "web_search")
    assert (tool["input"], tool["output"]) == (search.input, search.output)
    assert message["parts"][0]["signature"] == "sig-s"
    assert message["content"] == "Sunny."

    history = [{"role": "user", "content": "Weather?"}, message, ASK]
    await chat(d, P, model=G3, messages=history, serverTools=[{"name": "web_search"}])
    assert sent(fake)["contents"][1]["parts"][:2] == [
        {
            "toolCall": {"id": "srch-1", "toolType": "GOOGLE_SEARCH_WEB", "args": search.input},
            "thoughtSignature": "sig-s",
        },
        {
            "toolResponse": {
                "id": "srch-1",
                "toolType": "GOOGLE_SEARCH_WEB",
                "response": search.output,
            }
        },
    ]


async def test_cached_content_is_sent_by_reference(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(Reply(text="From the cache.", cached_tokens=900, prompt_tokens=1000))
    result = await chat(d, P, cachedContent="cachedContents/abc123")
    assert sent(fake)["cachedContent"] == "cachedContents/abc123"
    assert result["usage"]["cachedTokens"] == 900
    assert result["usage"]["promptTokens"] == 1000


async def test_cached_content_with_a_system_prompt_is_the_apis_error(
    d: Daemon, fake: FakeGemini
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, ASK]
    data = await chat_error(d, P, messages=messages, cachedContent="cachedContents/abc123")
    assert (data["kind"], data["status"]) == ("invalid_messages", 400)
    assert "CachedContent can not be used" in data["message"]


async def test_cache_control_is_refused_with_a_pointer_to_cached_content(
    d: Daemon, fake: FakeGemini
) -> None:
    content = [{"type": "text", "text": "long prefix", "cacheControl": {"type": "ephemeral"}}]
    data = await chat_error(d, P, messages=[{"role": "user", "content": content}])
    assert data["kind"] == "invalid_messages"
    assert "cachedContent" in data["message"]
    assert fake.requests == []


async def test_sampling_options_map_to_generation_config(d: Daemon, fake: FakeGemini) -> None:
    await chat(d, P, frequencyPenalty=0.5, presencePenalty=-0.25, seed=3, n=1, logprobs=False)
    assert sent(fake)["generationConfig"] == {
        "seed": 3,
        "presencePenalty": -0.25,
        "frequencyPenalty": 0.5,
    }


async def test_a_strict_tool_uses_validated_function_calling(d: Daemon, fake: FakeGemini) -> None:
    await chat(d, P, tools=[{**WEATHER_TOOL, "strict": True}])
    assert sent(fake)["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}
    await chat(d, P, tools=[{**WEATHER_TOOL, "strict": True}], toolChoice="required")
    assert sent(fake)["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("user", "user-42"),
        ("metadata", {"team": "a"}),
        ("parallelToolCalls", False),
        ("previousResponseId", "resp_1"),
    ],
)
async def test_options_gemini_lacks_are_refused(
    d: Daemon, fake: FakeGemini, option: str, value: Any
) -> None:
    data = await chat_error(d, P, **{option: value})
    assert data["kind"] == "invalid_messages"
    assert data["details"]["unsupported"] == [option]
    assert fake.requests == []


@pytest.mark.parametrize("streamed", [False, True])
async def test_n_asks_for_candidates_and_returns_each_as_a_choice(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    fake.queue(Reply(text="Hello there"))
    result = await ask(d, streamed, n=2)
    assert sent(fake)["generationConfig"] == {"candidateCount": 2}
    choices = result["choices"]
    assert [c["index"] for c in choices] == [0, 1]
    assert choices[0]["message"]["content"] == "Hello there"
    assert choices[1]["message"]["content"] == "Hello there (candidate 1)"
    assert [c["finishReason"] for c in choices] == ["stop", "stop"]


async def test_streamed_candidates_carry_their_index(d: Daemon, fake: FakeGemini) -> None:
    fake.queue(Reply(text="Hello there"))
    _, partials = await stream_chat(d, P, n=2)
    by_index: dict[int, str] = {}
    for p in partials:
        by_index[p["index"]] = by_index.get(p["index"], "") + (p["delta"].get("content") or "")
    assert by_index == {0: "Hello there", 1: "Hello there (candidate 1)"}


@pytest.mark.parametrize("streamed", [False, True])
async def test_logprobs_are_asked_for_and_parsed(
    d: Daemon, fake: FakeGemini, streamed: bool
) -> None:
    fake.queue(Reply(text="Hi there friend"))
    result = await ask(d, streamed, logprobs=True, topLogprobs=2)
    config = sent(fake)["generationConfig"]
    assert (config["responseLogprobs"], config["logprobs"]) == (True, 2)
    logprobs = result["choices"][0]["logprobs"]
    assert "".join(t["token"] for t in logprobs) == "Hi there friend"
    assert logprobs[0]["logprob"] == -0.25
    assert [a["token"] for a in logprobs[0]["topLogprobs"]] == ["Hi ", "alt1"]


async def test_documents_and_audio_become_inline_or_file_data(d: Daemon, fake: FakeGemini) -> None:
    content = [
        {"type": "text", "text": "Summarise these."},
        {
            "type": "document",
            "data": "JVBERi0xLjQK",
            "mimeType": "application/pdf",
            "name": "a.pdf",
        },
        {"type": "document", "url": "data:text/plain;base64,aGVsbG8=", "mimeType": "text/plain"},
        {
            "type": "document",
            "url": "https://generativelanguage.googleapis.com/v1beta/files/f1",
            "mimeType": "application/pdf",
        },
        {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"},
        {"type": "audio", "url": "https://generativelanguage.googleapis.com/v1beta/files/a1"},
    ]
    await chat(d, P, messages=[{"role": "user", "content": content}])
    assert sent(fake)["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjQK"}},
        {"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8="}},
        {
            "fileData": {
                "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/f1",
                "mimeType": "application/pdf",
            }
        },
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"fileData": {"fileUri": "https://generativelanguage.googleapis.com/v1beta/files/a1"}},
    ]
