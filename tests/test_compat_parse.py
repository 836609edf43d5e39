"""The Chat Completions answer parser on its own: content lists, reasoning dialects, stream
deltas, usage and logprobs, with a property test that a content list of any mix of part
types (known and unknown) is read without error, every known piece kept in order."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dspex_protocol import ReasoningPart, ServerToolPart, TextPart
from dspex_server.providers.base import StreamAccumulator
from dspex_server.providers.openai_compat_parse import (
    Piece,
    StreamReader,
    build_answer,
    content_pieces,
    deltas,
    detail_pieces,
    message_pieces,
    parse_logprobs,
    parse_usage,
)


def test_a_mistral_content_list_is_thinking_then_text() -> None:
    content = [
        {
            "type": "thinking",
            "thinking": [{"type": "text", "text": "Look "}, {"type": "text", "text": "left."}],
        },
        {"type": "text", "text": "Cross."},
    ]
    message = build_answer(content_pieces(content)).message()
    assert message.content == "Cross."
    assert message.reasoning == "Look left."
    assert message.parts == [ReasoningPart(text="Look left."), TextPart(text="Cross.")]


def test_unknown_part_types_and_non_objects_are_skipped() -> None:
    content = [
        {"type": "image_url", "image_url": {"url": "x"}},
        7,
        None,
        {"type": "text", "text": "ok"},
    ]
    assert content_pieces(content) == [Piece("text", "ok")]
    assert content_pieces({"unexpected": "shape"}) == []


def test_reasoning_details_win_over_the_reasoning_string_they_repeat() -> None:
    delta = {
        "reasoning": "We need",
        "reasoning_details": [{"type": "reasoning.text", "text": "We need", "index": 0}],
    }
    assert message_pieces(delta) == [Piece("reasoning", "We need")]


def test_a_summary_is_marked_once_and_encrypted_data_closes_it() -> None:
    details = [
        {
            "type": "reasoning.summary",
            "summary": "Plan.",
            "id": "rs_1",
            "format": "openai-responses-v1",
        },
        {
            "type": "reasoning.encrypted",
            "data": "gAAA",
            "id": "rs_1",
            "format": "openai-responses-v1",
        },
    ]
    message = build_answer(detail_pieces(details)).message()
    assert message.parts == [
        ReasoningPart(
            text="Plan.", summary=True, data="gAAA", id="rs_1", format="openai-responses-v1"
        )
    ]


def test_a_signature_alone_is_a_reasoning_part_of_its_own() -> None:
    details = [{"type": "reasoning.text", "signature": "sig", "format": "google-gemini-v1"}]
    parts = build_answer(detail_pieces(details)).build()
    assert parts == [ReasoningPart(signature="sig", format="google-gemini-v1")]


def test_deltas_keep_the_arrival_order_of_pieces() -> None:
    part = ServerToolPart(id="t", name="web_search")
    pieces = [
        Piece("text", "a"),
        Piece("part", part=part),
        Piece("reasoning", "b"),
        Piece("text", "c"),
    ]
    acc = StreamAccumulator("m")
    for delta in deltas(pieces):
        acc.add_delta(delta)
    parts = acc.response("p").message.parts or []
    assert [p.type for p in parts] == ["text", "server_tool", "reasoning", "text"]


def test_groq_stream_reports_an_executed_tool_once_its_output_came() -> None:
    reader = StreamReader()
    announce = {"executed_tools": [{"index": 0, "type": "search", "arguments": '{"query": "q"}'}]}
    done = {"executed_tools": [{**announce["executed_tools"][0], "output": "r"}]}
    chunks = [{"choices": [{"index": 0, "delta": d}]} for d in (announce, done, done)]
    parts = [p for c in chunks for p in reader.read(c, None)]
    tools = [t for p in parts if p.delta for t in p.delta.parts or []]
    assert [(t.name, t.input, t.output) for t in tools] == [
        ("web_search", {"query": "q"}, {"output": "r"})
    ]


def test_groq_stream_usage_is_read_from_x_groq() -> None:
    chunk = {"choices": [], "x_groq": {"usage": {"prompt_tokens": 5, "completion_tokens": 2}}}
    (part,) = StreamReader().read(chunk, "req")
    assert part.usage is not None and part.usage.total_tokens == 7


def test_usage_reads_every_dialects_cache_counts() -> None:
    deepseek = parse_usage(
        {"prompt_tokens": 9, "completion_tokens": 1, "prompt_cache_hit_tokens": 8}
    )
    mistral = parse_usage({"prompt_tokens": 9, "completion_tokens": 1, "num_cached_tokens": 4})
    router = parse_usage(
        {"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 6}}
    )
    assert deepseek and deepseek.cached_tokens == 8
    assert mistral and mistral.cached_tokens == 4
    assert router and (router.cached_tokens, router.cache_write_tokens) == (3, 6)
    assert parse_usage("nope") is None


def test_malformed_logprob_entries_are_skipped() -> None:
    raw = {"content": [{"token": "a", "logprob": -1}, {"token": 3}, {"token": "b", "logprob": "x"}]}
    tokens = parse_logprobs(raw) or []
    assert [(t.token, t.logprob) for t in tokens] == [("a", -1.0)]
    assert parse_logprobs(None) is None


_text = st.text(min_size=1, max_size=12)
_known = st.one_of(
    _text.map(lambda t: ("text", t, {"type": "text", "text": t})),
    _text.map(lambda t: ("text", t, t)),  # a bare string in the list
    _text.map(
        lambda t: ("reasoning", t, {"type": "thinking", "thinking": [{"type": "text", "text": t}]})
    ),
    _text.map(lambda t: ("reasoning", t, {"type": "thinking", "thinking": [5, {"text": t}]})),
    _text.map(lambda t: ("reasoning", t, {"type": "thinking", "thinking": t})),
    _text.map(lambda t: ("refusal", t, {"type": "refusal", "refusal": t})),
)
_unknown = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["image_url", "tool_use", "output_text", "", None, 3])},
        optional={"text": st.text(), "thinking": st.text()},
    ),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=2),
).map(lambda v: ("", "", v))
_parts = st.lists(st.one_of(_known, _unknown), max_size=20)


@given(_parts)
def test_any_content_list_parses_keeping_every_known_piece_in_order(
    parts: list[tuple[str, str, Any]],
) -> None:
    pieces = content_pieces([raw for _, _, raw in parts])
    assert [(p.kind, p.text) for p in pieces] == [(k, t) for k, t, _ in parts if k]
    message = build_answer(pieces).message()
    texts = "".join(t for k, t, _ in parts if k == "text")
    reasoning = "".join(t for k, t, _ in parts if k == "reasoning")
    assert message.content == (texts or None)
    assert message.reasoning == (reasoning or None)
    refusals = [p for p in message.parts or [] if p.type == "refusal"]
    assert "".join(getattr(p, "text", "") for p in refusals) == "".join(
        t for k, t, _ in parts if k == "refusal"
    )
