"""Unit tests of the Anthropic parsers and block builder: what one answer's blocks become,
plain and streamed (and that both agree, for any split of the stream), and that parts sent
back become the blocks they came from. Plus the catalog rows of current Claude models."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_protocol import CacheControl, Message, ToolDefinition
from dspex_server.catalog import lookup
from dspex_server.errors import DspexError
from dspex_server.providers.anthropic_content import ContentBuilder
from dspex_server.providers.anthropic_parse import parse_content
from dspex_server.providers.anthropic_request import build_body, count_breakpoints
from dspex_server.providers.anthropic_stream import StreamParser
from dspex_server.providers.base import ProviderRequest, StreamAccumulator, assistant_message


class _Adapter:
    """What the stream parser asks of its adapter (errors only)."""

    def payload_error(self, payload: Any, model: str, fallback: str) -> DspexError:
        raise AssertionError(f"unexpected error event {payload}")


def _invalid(what: str) -> DspexError:
    return DspexError.__new__(DspexError)  # never raised by these answers


def plain(blocks: list[dict[str, Any]]) -> Any:
    parts, calls = parse_content(blocks, _invalid)
    return assistant_message(parts, calls)


def streamed(events: list[dict[str, Any]]) -> Any:
    parser = StreamParser(_Adapter(), "claude", None)  # type: ignore[arg-type]
    acc = StreamAccumulator("claude")
    for event in events:
        part = parser.feed(event)
        if part is not None:
            acc.add(part)
    return acc.response("anthropic").message


def events_of(blocks: list[dict[str, Any]], cut: Any = None) -> list[dict[str, Any]]:
    """The documented event sequence of `blocks`; `cut(text)` splits streamed text."""
    cut = cut or (lambda text: [text[i : i + 4] for i in range(0, len(text), 4)])
    events: list[dict[str, Any]] = [{"type": "message_start", "message": {"usage": {}}}]
    for i, block in enumerate(blocks):
        kind, deltas = block["type"], []
        start = block
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in cut(block["text"])]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in cut(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            start = {**block, "input": {}}
            text = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in cut(text)]
        events.append({"type": "content_block_start", "index": i, "content_block": start})
        events += [{"type": "content_block_delta", "index": i, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": i})
    events.append({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}})
    events.append({"type": "message_stop"})
    return events


SEARCH_USE = {
    "type": "server_tool_use",
    "id": "srvtoolu_1",
    "name": "web_search",
    "input": {"query": "paris weather", "max_uses": 2},
}
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [{"type": "web_search_result", "url": "https://w.example", "title": "W"}],
}


def test_a_server_tool_input_in_several_pieces_is_assembled() -> None:
    message = streamed(events_of([SEARCH_USE, SEARCH_RESULT]))
    (part,) = message.parts
    assert part.input == SEARCH_USE["input"]
    assert part.output == SEARCH_RESULT["content"]
    assert message.tool_calls is None


def test_text_with_citations_keeps_its_text() -> None:
    cited = {
        "type": "text",
        "text": "It is sunny.",
        "citations": [{"type": "web_search_result_location", "url": "https://w.example"}],
    }
    assert plain([cited]).content == "It is sunny."
    delta = {"type": "citations_delta", "citation": cited["citations"][0]}
    events = events_of([cited])
    events.insert(3, {"type": "content_block_delta", "index": 0, "delta": delta})
    assert streamed(events).content == "It is sunny."


def test_a_result_whose_use_came_before_a_pause_stands_alone() -> None:
    (part, _text_part) = plain([SEARCH_RESULT, {"type": "text", "text": "Found it."}]).parts
    assert (part.id, part.name, part.input) == ("srvtoolu_1", "web_search", None)
    assert part.result_type == "web_search_tool_result"
    blocks = ContentBuilder(model="claude").server_tool_blocks(part)
    assert blocks == [SEARCH_RESULT]  # the use block was sent with the answer before


def test_unknown_blocks_and_deltas_are_skipped() -> None:
    odd = {"type": "container_upload", "file_id": "file_1"}
    blocks = [odd, {"type": "text", "text": "Hi"}]
    assert plain(blocks).content == "Hi"
    events = events_of(blocks)
    events.insert(2, {"type": "content_block_delta", "index": 0, "delta": {"type": "x_delta"}})
    events.insert(
        2,
        {
            "type": "content_block_delta",
            "index": 9,
            "delta": {"type": "input_json_delta", "partial_json": "{"},
        },
    )
    events.insert(1, {"type": "future_event"})
    assert streamed(events).content == "Hi"


def test_an_error_result_is_an_error() -> None:
    failed = {
        **SEARCH_RESULT,
        "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
    }
    assert plain([SEARCH_USE, failed]).parts[0].is_error is True


# -- any answer, any split: plain and streamed agree, and sent back it is what came ----

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
_ids = st.text("abcdef0123456789", min_size=6, max_size=6)
_json = st.dictionaries(
    st.text("abcxyz", min_size=1, max_size=5), st.integers() | _text, max_size=3
)


@st.composite
def answers(draw: st.DrawFn) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for kind in draw(
        st.lists(
            st.sampled_from(["text", "thinking", "redacted", "server"]), min_size=1, max_size=6
        )
    ):
        if kind == "text":
            if blocks and blocks[-1]["type"] == "text":
                continue  # adjacent text blocks are one text part
            blocks.append({"type": "text", "text": draw(_text)})
        elif kind == "thinking":
            # Empty thinking: its display omitted (signature only).
            thinking = draw(_text | st.just(""))
            blocks.append(
                {"type": "thinking", "thinking": thinking, "signature": "sig" + draw(_ids)}
            )
        elif kind == "redacted":
            blocks.append({"type": "redacted_thinking", "data": "data" + draw(_ids)})
        else:
            ident = "srvtoolu_" + draw(_ids)
            blocks.append(
                {"type": "server_tool_use", "id": ident, "name": "web_search", "input": draw(_json)}
            )
            blocks.append(
                {"type": "web_search_tool_result", "tool_use_id": ident, "content": [draw(_json)]}
            )
    if draw(st.booleans()):
        blocks.append(
            {"type": "tool_use", "id": "toolu_" + draw(_ids), "name": "f", "input": draw(_json)}
        )
    return blocks


@settings(max_examples=150, deadline=None)
@given(blocks=answers(), data=st.data())
def test_plain_and_streamed_answers_agree_for_any_split(
    blocks: list[dict[str, Any]], data: st.DataObject
) -> None:
    def cut(text: str) -> list[str]:
        points = sorted(data.draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=4)))
        edges = [0, *points, len(text)]
        return [text[a:b] for a, b in itertools.pairwise(edges) if text[a:b]]

    assert streamed(events_of(blocks, cut)) == plain(blocks)


@settings(max_examples=100, deadline=None)
@given(blocks=answers())
def test_an_answer_sent_back_is_the_blocks_it_came_from(blocks: list[dict[str, Any]]) -> None:
    message = plain(blocks)
    history = Message(
        role="assistant", content=message.parts or message.content, tool_calls=message.tool_calls
    )
    role, sent = ContentBuilder(model="claude", thinking=True).turn(history)
    assert (role, sent) == ("assistant", blocks)


@pytest.mark.parametrize(
    ("model", "reasons"),
    [
        ("claude-opus-4-5-20251101", True),
        ("claude-opus-4-1-20250805", True),
        ("claude-sonnet-4-5-20250929", True),
        ("claude-haiku-4-5-20251001", True),
        ("claude-sonnet-4-0", True),
        ("claude-3-7-sonnet-20250219", True),
        ("claude-3-5-haiku-20241022", False),
    ],
)
def test_the_catalog_knows_current_claude_models(model: str, reasons: bool) -> None:
    entry = lookup("anthropic", model)
    assert entry is not None
    assert entry.context_window == 200000
    assert ("reasoning" in entry.capabilities) is reasons


def test_only_blocks_count_as_cache_breakpoints() -> None:
    schema = {"type": "object", "properties": {"cache_control": {"type": "string"}}}
    mark = CacheControl()
    request = ProviderRequest(
        model="claude-haiku-4-5",
        messages=[Message(role="user", content="hi", cache_control=mark)] * 4,
        tools=[ToolDefinition(name="f", parameters=schema)],
    )
    assert count_breakpoints(build_body(request, 4096).body) == 4


def test_thinking_tokens_reported_apart_are_reasoning_tokens() -> None:
    from dspex_server.providers.anthropic_parse import parse_usage

    usage = parse_usage(
        {"input_tokens": 10, "output_tokens": 145, "output_tokens_details": {"thinking_tokens": 47}}
    )
    assert usage is not None
    assert (usage.completion_tokens, usage.reasoning_tokens) == (145, 47)
    assert parse_usage({"input_tokens": 10, "output_tokens": 5}).reasoning_tokens is None  # type: ignore[union-attr]
