"""How streamed pieces become the final answer's parts (the stream accumulator), unit and
property tests."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dspex_protocol import ReasoningPart, ServerToolPart, TextPart
from dspex_server.providers.base import StreamAccumulator, StreamPart
from dspex_server.providers.delta import CallFragment, Delta


def _acc(*deltas: Delta, index: int = 0) -> StreamAccumulator:
    acc = StreamAccumulator("m")
    for delta in deltas:
        acc.add(StreamPart(delta=delta, index=index))
    return acc


def test_reasoning_then_text_are_two_parts_in_order() -> None:
    acc = _acc(
        Delta(reasoning="Let me "),
        Delta(reasoning="think."),
        Delta(parts=[ReasoningPart(signature="sig-1")]),
        Delta(content="Four."),
    )
    message = acc.response("p").message
    assert message.content == "Four."
    assert message.reasoning == "Let me think."
    assert message.parts == [
        ReasoningPart(text="Let me think.", signature="sig-1"),
        TextPart(text="Four."),
    ]


def test_a_signed_reasoning_block_is_closed_the_next_one_starts_a_new_part() -> None:
    acc = _acc(
        Delta(reasoning="first"),
        Delta(parts=[ReasoningPart(signature="a")]),
        Delta(reasoning="second"),
        Delta(parts=[ReasoningPart(signature="b")]),
    )
    parts = acc.response("p").message.parts
    assert parts == [
        ReasoningPart(text="first", signature="a"),
        ReasoningPart(text="second", signature="b"),
    ]


def test_redacted_reasoning_stands_alone() -> None:
    acc = _acc(Delta(parts=[ReasoningPart(data="opaque")]), Delta(content="ok"))
    assert acc.response("p").message.parts == [ReasoningPart(data="opaque"), TextPart(text="ok")]


def test_server_tool_results_sit_between_the_texts_they_separate() -> None:
    tool = ServerToolPart(id="srv_1", name="web_search", input={"query": "q"}, output=[])
    acc = _acc(Delta(content="Searching."), Delta(parts=[tool]), Delta(content="Done."))
    message = acc.response("p").message
    assert message.content == "Searching.Done."
    assert message.parts == [TextPart(text="Searching."), tool, TextPart(text="Done.")]
    assert message.tool_calls is None


def test_a_text_only_answer_has_no_parts() -> None:
    message = _acc(Delta(content="a"), Delta(content="b")).response("p").message
    assert message.content == "ab"
    assert message.parts is None and message.reasoning is None


def test_tool_call_signatures_are_kept() -> None:
    acc = _acc(
        Delta(tool_calls=[CallFragment(index=0, id="c1", name="f", signature="s")]),
        Delta(tool_calls=[CallFragment(index=0, arguments='{"x": 1}')]),
    )
    (call,) = acc.response("p").message.tool_calls or []
    assert (call.id, call.name, call.arguments, call.signature) == ("c1", "f", {"x": 1}, "s")


def test_choices_after_the_first_are_assembled_apart() -> None:
    acc = StreamAccumulator("m")
    acc.add(StreamPart(delta=Delta(content="zero"), index=0))
    acc.add(StreamPart(delta=Delta(content="one"), index=1))
    acc.add(StreamPart(finish_reason="length", index=1))
    acc.add(StreamPart(finish_reason="stop", index=0))
    response = acc.response("p")
    assert response.message.content == "zero"
    assert response.finish_reason == "stop"
    (extra,) = response.more_choices
    assert (extra.message.content, extra.finish_reason) == ("one", "length")


_pieces = st.lists(
    st.tuples(st.sampled_from(["content", "reasoning", "refusal"]), st.text(min_size=1)),
    max_size=30,
)


@given(_pieces)
def test_every_streamed_piece_lands_in_a_part_of_its_kind_in_order(
    pieces: list[tuple[str, str]],
) -> None:
    acc = _acc(*(Delta(**{kind: text}) for kind, text in pieces))
    message = acc.response("p").message
    kind_of = {"text": "content", "reasoning": "reasoning", "refusal": "refusal"}
    parts = message.parts or ([TextPart(text=message.content)] if message.content else [])
    rebuilt = [(kind_of[p.type], getattr(p, "text", "")) for p in parts]
    merged: list[tuple[str, str]] = []
    for kind, text in pieces:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    assert rebuilt == merged
    assert message.content == ("".join(t for k, t in pieces if k == "content") or None)


def test_pieces_after_a_whole_part_of_their_kind_continue_it() -> None:
    acc = StreamAccumulator("m")
    acc.add(StreamPart(delta=Delta(parts=[TextPart(text="whole ")])))
    acc.add(StreamPart(delta=Delta(content="then streamed")))
    acc.add(StreamPart(delta=Delta(parts=[ReasoningPart(text="thought ")])))
    acc.add(StreamPart(delta=Delta(reasoning="more")))
    parts = acc.response("p").message.parts
    assert parts == [TextPart(text="whole then streamed"), ReasoningPart(text="thought more")]
