"""Converse answers parsed into parts: the plain answer and the stream of the same answer
give the same message however the frames are split (property), and the shapes real
traffic holds (cache usage, built-in tools ending a turn, grounding citations, block
kinds added later) parse as the Converse API reference describes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from fakes.base import Reply, ServerTool, Thinking
from fakes.bedrock_wire import content, event, stop_reason, stream_frames, usage
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_protocol import AssistantMessage, ErrorKind, ReasoningPart, ServerToolPart, TextPart
from dspex_server.errors import DspexError
from dspex_server.providers import bedrock_wire as wire
from dspex_server.providers.base import ProviderResponse, StreamAccumulator
from dspex_server.providers.bedrock_models import family
from dspex_server.providers.bedrock_stream import ConverseStreamParser
from dspex_server.providers.http import HttpAdapter

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class _Adapter:
    """What the stream parser asks of its adapter: the name, error kinds, a cut stream."""

    name = "bedrock"

    def classify(self, status: int | None, code: str | None) -> tuple[ErrorKind, bool]:
        return ErrorKind.API_ERROR, False

    def stream_cut(self, model: str, expected: str) -> DspexError:
        return DspexError(ErrorKind.NETWORK_ERROR, f"cut before {expected}")


def parse_stream(stream: bytes, size: int = 64) -> ProviderResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(stream), size):
            yield stream[start : start + size]

    async def decode() -> ProviderResponse:
        acc = StreamAccumulator(MODEL)
        parser = ConverseStreamParser(cast(HttpAdapter, _Adapter()), MODEL)
        async for part in parser.parts(chunks()):
            acc.add(part)
        return acc.response("bedrock")

    return asyncio.run(decode())


def streamed(reply: Reply, size: int = 64, extra: list[bytes] | None = None) -> ProviderResponse:
    frames = [event("messageStart", {"role": "assistant"}), *stream_frames(reply), *(extra or [])]
    frames += [
        event("messageStop", {"stopReason": stop_reason(reply)}),
        event("metadata", {"usage": usage(reply), "metrics": {"latencyMs": 1}}),
    ]
    return parse_stream(b"".join(frames), size)


def plain(reply: Reply) -> tuple[AssistantMessage, str]:
    payload = {
        "output": {"message": {"role": "assistant", "content": content(reply)}},
        "stopReason": stop_reason(reply),
        "usage": usage(reply),
    }
    message, stop = wire.parse_converse(payload, "bedrock", MODEL)
    return message, wire.stop_reason(stop, bool(message.tool_calls))


words = st.text(alphabet="abc xyz.", min_size=1, max_size=12)
signed = st.builds(
    Thinking, text=words, signature=st.text("ABCDEF0123+/=", min_size=4, max_size=12)
)
redacted = st.builds(Thinking, redacted=st.text("ABCDEFabcdef0123", min_size=4, max_size=16))
interpreter = st.builds(
    ServerTool,
    id=st.just("tooluse_s"),
    name=st.just("nova_code_interpreter"),
    input=st.fixed_dictionaries({"snippet": words}),
    output=st.lists(
        st.one_of(
            st.fixed_dictionaries({"json": st.fixed_dictionaries({"stdOut": words})}),
            st.fixed_dictionaries({"text": words}),
        ),
        min_size=1,
        max_size=1,
    ),
    result_type=st.just("nova_code_interpreter_result"),
)
calls = st.lists(
    st.builds(
        lambda i, city: {"id": f"tooluse_c{i}", "name": "get_weather", "arguments": {"city": city}},
        st.integers(0, 99),
        words,
    ),
    max_size=2,
    unique_by=lambda c: c["id"],
)


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.lists(st.one_of(words, signed, redacted, interpreter), min_size=1, max_size=6),
    tool_calls=calls,
    size=st.integers(min_value=1, max_value=97),
)
def test_a_streamed_answer_assembles_to_the_plain_one(
    blocks: list[Any], tool_calls: list[dict[str, Any]], size: int
) -> None:
    for n, block in enumerate(blocks):  # ids are unique within an answer
        if isinstance(block, ServerTool):
            block.id = f"tooluse_s{n}"
    reply = Reply(blocks=blocks, tool_calls=tool_calls, cached_tokens=3, cache_write_tokens=2)
    message, finish = plain(reply)
    response = streamed(reply, size)
    assert response.message == message
    assert response.finish_reason == finish
    assert response.usage == wire.parse_usage(usage(reply))
    assert not any(c.name == "nova_code_interpreter" for c in message.tool_calls or ())


def test_prompt_tokens_include_cache_reads_and_writes() -> None:
    recorded = {
        "cacheReadInputTokens": 2752,
        "cacheWriteInputTokens": 0,
        "inputTokens": 433,
        "outputTokens": 16,
        "totalTokens": 3201,
    }
    parsed = wire.parse_usage(recorded)
    assert parsed is not None
    assert (parsed.prompt_tokens, parsed.total_tokens) == (433 + 2752, 3201)
    assert (parsed.cached_tokens, parsed.cache_write_tokens) == (2752, 0)
    bare = wire.parse_usage({"inputTokens": 7, "outputTokens": 2, "totalTokens": 9})
    assert bare is not None and bare.cached_tokens is None


def test_a_turn_ended_by_a_built_in_tool_alone_is_complete() -> None:
    assert wire.stop_reason("tool_use", has_calls=False) == "stop"
    assert wire.stop_reason("tool_use", has_calls=True) == "tool_calls"
    assert wire.stop_reason("malformed_tool_use", has_calls=False) == "error"


def test_grounded_text_keeps_its_citations_beside_it() -> None:
    citation = {"location": {"web": {"url": "https://example.org/a", "domain": "example.org"}}}
    payload = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "Quantum news: "},
                    {
                        "citationsContent": {
                            "content": [{"text": "a record."}],
                            "citations": [citation],
                        }
                    },
                ],
            }
        },
        "stopReason": "end_turn",
    }
    message, _ = wire.parse_converse(payload, "bedrock", MODEL)
    assert message.content == "Quantum news: a record."
    assert message.parts == [
        TextPart(text="Quantum news: a record."),
        ServerToolPart(
            id="citations_1",
            name="nova_grounding",
            output=[citation],
            result_type="citationsContent",
        ),
    ]


def test_streamed_citations_close_with_their_block() -> None:
    citation = {"title": "A", "location": {"web": {"url": "https://example.org/a"}}}
    extra = [
        event("contentBlockDelta", {"contentBlockIndex": 5, "delta": {"text": "Cited."}}),
        event("contentBlockDelta", {"contentBlockIndex": 5, "delta": {"citation": citation}}),
        event("contentBlockStop", {"contentBlockIndex": 5}),
    ]
    response = streamed(Reply(blocks=["Hi. "]), extra=extra)
    assert response.message.content == "Hi. Cited."
    parts = response.message.parts or []
    assert [p.type for p in parts] == ["text", "server_tool"]
    assert isinstance(parts[1], ServerToolPart) and parts[1].output == [citation]


def test_block_kinds_added_later_are_skipped_not_fatal() -> None:
    payload = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"text": "Here."}, {"image": {"format": "png"}}, {"futureBlock": {}}],
            }
        },
        "stopReason": "end_turn",
    }
    message, _ = wire.parse_converse(payload, "bedrock", MODEL)
    assert message == AssistantMessage(content="Here.")
    extra = [
        event("contentBlockStart", {"contentBlockIndex": 7, "start": {"image": {"format": "png"}}}),
        event("contentBlockDelta", {"contentBlockIndex": 7, "delta": {"image": {"source": {}}}}),
        event("contentBlockDelta", {"contentBlockIndex": 8, "delta": {"somethingNew": {"x": 1}}}),
        event("contentBlockStop", {"contentBlockIndex": 7}),
        event("someNewEvent", {"x": 1}),
    ]
    assert streamed(Reply(text="Here."), extra=extra).message == AssistantMessage(content="Here.")


def test_model_families_read_through_inference_profiles() -> None:
    assert family("us.anthropic.claude-haiku-4-5-20251001-v1:0").claude
    assert family("global.amazon.nova-2-lite-v1:0").nova2
    assert family("amazon.nova-premier-v1:0").has_system_tools
    assert not family("amazon.nova-lite-v1:0").has_system_tools
    assert family("us.deepseek.r1-v1:0").always_reasons
    assert not family("arn:aws:bedrock:us-east-1:1:application-inference-profile/x").can_reason


def test_a_built_in_tool_without_its_result_is_still_reported() -> None:
    use = {"toolUseId": "tooluse_x", "name": "nova_code_interpreter", "type": "server_tool_use"}
    extra = [
        event("contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": use}}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{}"}}}),
        event("contentBlockStop", {"contentBlockIndex": 1}),
    ]
    response = streamed(Reply(text="Trying."), extra=extra)
    assert response.message.tool_calls is None
    parts = response.message.parts or []
    assert isinstance(parts[1], ServerToolPart) and parts[1].output is None
    assert (parts[1].id, parts[1].name) == ("tooluse_x", "nova_code_interpreter")


def test_a_reasoning_delta_may_carry_its_signature() -> None:
    together = {"reasoningContent": {"text": "Hmm.", "signature": "sig"}}
    extra = [event("contentBlockDelta", {"contentBlockIndex": 3, "delta": together})]
    parts = streamed(Reply(text="Done."), extra=extra).message.parts or []
    assert parts[1] == ReasoningPart(text="Hmm.", signature="sig")
