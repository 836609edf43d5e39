"""The streamed path's own types against the protocol: a Delta's and a Chunk's wire dicts are
what the pydantic models make of the same values (and validate as them), and the chunks a
partial-results sink merges carry every piece, in order, to the same final answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fakes.base import Reply, SlowStream
from fakes.openai_server import FakeOpenAI
from hypothesis import given
from hypothesis import strategies as st
from raw_daemon import raw_daemon
from reliability_support import chat_params, openai_env, options

from dspex_protocol import (
    ChatChunk,
    ChatDelta,
    FailoverMark,
    ReasoningPart,
    ServerToolPart,
    TextPart,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
)
from dspex_server.partials import Chunk, CoalescingSink, coalesce_chunks
from dspex_server.providers.base import StreamAccumulator, StreamPart
from dspex_server.providers.delta import CallFragment, Delta, coalesce, merged

_text = st.text(max_size=6)
_id = st.none() | st.text(min_size=1, max_size=4)
_fragments = st.builds(
    CallFragment,
    index=st.integers(0, 2),
    id=_id,
    name=_id,
    arguments=st.none() | st.text(max_size=5),
    signature=_id,
    item_id=_id,
)
_parts = st.one_of(
    st.builds(ReasoningPart, signature=st.text(min_size=1, max_size=4)),
    st.builds(ReasoningPart, summary=st.booleans(), data=_id),
    st.builds(TextPart, text=_text, id=_id),
    st.builds(
        ServerToolPart, id=st.text(min_size=1, max_size=3), name=st.sampled_from(["web_search"])
    ),
)
_logprobs = st.builds(
    TokenLogprob,
    token=_text,
    logprob=st.floats(-10, 0),
    top_logprobs=st.none() | st.lists(st.builds(TopLogprob, token=_text, logprob=st.just(-1.0))),
)
_deltas = st.builds(
    Delta,
    content=st.none() | _text,
    reasoning=st.none() | _text,
    refusal=st.none() | _text,
    tool_calls=st.none() | st.lists(_fragments, max_size=2),
    parts=st.none() | st.lists(_parts, max_size=2),
    logprobs=st.none() | st.lists(_logprobs, max_size=2),
)


def _as_model(delta: Delta) -> ChatDelta:
    return ChatDelta(
        content=delta.content,
        reasoning=delta.reasoning,
        refusal=delta.refusal,
        tool_calls=None
        if delta.tool_calls is None
        else [
            ToolCallDelta(
                index=f.index,
                id=f.id,
                name=f.name,
                arguments=f.arguments,
                signature=f.signature,
                item_id=f.item_id,
            )
            for f in delta.tool_calls
        ],
        parts=delta.parts,
        logprobs=delta.logprobs,
    )


@given(_deltas)
def test_a_delta_on_the_wire_is_what_chat_delta_makes_of_it(delta: Delta) -> None:
    wire = delta.to_wire()
    assert wire == _as_model(delta).to_wire()
    assert ChatDelta.model_validate(wire).to_wire() == wire


@given(_deltas, st.integers(0, 3), st.sampled_from([None, "stop", "length"]), st.booleans())
def test_a_chunk_on_the_wire_is_a_valid_chat_chunk(
    delta: Delta, index: int, finish: Any, failover: bool
) -> None:
    mark = FailoverMark(provider="b", model="m", mode="restart", reason="timeout")
    chunk = Chunk("cid", index, delta, finish, mark if failover else None)
    model = ChatChunk(
        correlation_id="cid",
        index=index,
        delta=_as_model(delta),
        finish_reason=finish,
        failover=mark if failover else None,
    )
    assert chunk.to_wire() == model.to_wire()
    assert ChatChunk.model_validate(chunk.to_wire()).to_wire() == chunk.to_wire()


def _answer(deltas: list[Delta]) -> Any:
    """What the accumulator assembles: parts in order, each call's id, name and argument
    text, the logprobs."""
    acc = StreamAccumulator("m")
    for delta in deltas:
        acc.add(StreamPart(delta=delta))
    calls = {
        i: (b.id, b.name, b.signature, b.item_id, "".join(b.arguments))
        for i, b in acc.tool_calls.items()
    }
    return acc.answer.build(), calls, acc.logprobs


# Deltas as parsers make them: fragments name their call on the first piece only.
_stream_deltas = st.lists(
    st.one_of(
        st.builds(Delta, content=_text),
        st.builds(Delta, reasoning=_text),
        st.builds(Delta, refusal=_text),
        st.builds(lambda p: Delta(parts=[p]), _parts),
        st.builds(lambda lp: Delta(logprobs=[lp]), _logprobs),
        st.builds(
            lambda i, args: Delta(tool_calls=[CallFragment(index=i, arguments=args)]),
            st.integers(0, 1),
            st.text(alphabet="{}:1a", max_size=3),
        ),
        st.builds(
            lambda c, r: Delta(content=c, reasoning=r),
            _text,
            _text,
        ),
    ),
    max_size=12,
)


def _with_named_calls(deltas: list[Delta]) -> list[Delta]:
    """Each call's first fragment names it (as the wire formats do)."""
    named: set[int] = set()
    out = []
    for delta in deltas:
        for fragment in delta.tool_calls or ():
            if fragment.index not in named:
                named.add(fragment.index)
                fragment.id, fragment.name = f"c{fragment.index}", "f"
        out.append(delta)
    return out


@given(_stream_deltas.map(_with_named_calls))
def test_merging_deltas_never_changes_the_answer(deltas: list[Delta]) -> None:
    assert _answer(coalesce(deltas)) == _answer(deltas)


@given(_stream_deltas.map(_with_named_calls))
def test_merged_chunks_carry_every_piece_in_order(deltas: list[Delta]) -> None:
    chunks = [Chunk("c", 0, d) for d in deltas]
    sent = coalesce_chunks(chunks)
    assert len(sent) <= max(1, len(chunks))
    assert _answer([c.delta for c in sent]) == _answer(deltas)
    for kind in ("content", "reasoning", "refusal"):
        assert "".join(getattr(c.delta, kind) or "" for c in sent) == "".join(
            getattr(d, kind) or "" for d in deltas
        )
    for index in range(2):  # each call's argument text, piece by piece in order
        assert "".join(
            f.arguments or "" for c in sent for f in c.delta.tool_calls or () if f.index == index
        ) == "".join(
            f.arguments or "" for d in deltas for f in d.tool_calls or () if f.index == index
        )


@given(st.lists(st.tuples(st.integers(0, 2), _text), max_size=15))
def test_chunks_of_several_choices_merge_per_choice(pieces: list[tuple[int, str]]) -> None:
    chunks = [Chunk("c", i, Delta(content=t)) for i, t in pieces]
    sent = coalesce_chunks(chunks)
    for index in {i for i, _ in pieces}:
        assert "".join(c.delta.content or "" for c in sent if c.index == index) == "".join(
            t for i, t in pieces if i == index
        )
    assert len(sent) == len({i for i, _ in pieces})


def test_text_pieces_merge_and_a_kind_switch_back_starts_a_new_chunk() -> None:
    sent = coalesce_chunks(
        [
            Chunk("c", 0, Delta(reasoning="Let ")),
            Chunk("c", 0, Delta(reasoning="me think.")),
            Chunk("c", 0, Delta(content="Four")),
            Chunk("c", 0, Delta(content=".")),
            Chunk("c", 0, Delta(reasoning="Again?")),
        ]
    )
    assert [c.delta.to_wire() for c in sent] == [
        {"reasoning": "Let me think.", "content": "Four."},
        {"reasoning": "Again?"},
    ]


def test_argument_pieces_join_the_fragment_that_named_the_call() -> None:
    named = Delta(tool_calls=[CallFragment(0, id="c1", name="f", arguments="{")])
    then = [Delta(tool_calls=[CallFragment(0, arguments=p)]) for p in ('"a"', ":1", "}")]
    other = Delta(tool_calls=[CallFragment(1, id="c2", name="g")])
    sent = coalesce([named, *then, other])
    assert [d.to_wire() for d in sent] == [
        {
            "toolCalls": [
                {"index": 0, "id": "c1", "name": "f", "arguments": '{"a":1}'},
                {"index": 1, "id": "c2", "name": "g"},
            ]
        }
    ]


def test_parts_after_text_merge_but_text_after_parts_does_not() -> None:
    sig = ReasoningPart(signature="s")
    assert merged(Delta(reasoning="r"), Delta(parts=[sig])) == Delta(reasoning="r", parts=[sig])
    assert merged(Delta(parts=[sig]), Delta(content="c")) is None


def test_a_failover_mark_starts_a_chunk_nothing_merges_past() -> None:
    mark = FailoverMark(provider="b", model="m", mode="restart", reason="timeout")
    sent = coalesce_chunks(
        [
            Chunk("c", 0, Delta(content="old ")),
            Chunk("c", 0, Delta(content="new "), failover=mark),
            Chunk("c", 0, Delta(content="answer")),
        ]
    )
    assert [(c.delta.content, c.failover) for c in sent] == [
        ("old ", None),
        ("new answer", mark),
    ]


async def test_the_sink_sends_the_first_chunk_at_once_then_once_per_loop_pass() -> None:
    sent: list[dict[str, Any]] = []
    flushed: list[int] = []
    sink = CoalescingSink(sent.append, lambda: flushed.append(len(sent)))
    for piece in ("a", "b", "c", "d"):
        sink(Chunk("c", 0, Delta(content=piece)))
    assert [s["delta"] for s in sent] == [{"content": "a"}]  # time to first token
    await asyncio.sleep(0)
    assert [s["delta"] for s in sent] == [{"content": "a"}, {"content": "bcd"}]
    assert flushed == [1, 2]
    sink(Chunk("c", 0, Delta(content="e")))
    sink.flush()  # before the answer goes out
    assert sent[-1]["delta"] == {"content": "e"}
    await asyncio.sleep(0)
    assert len(sent) == 3


# -- through the daemon ----------------------------------------------------------------------


def _progress(d: Any, token: str) -> list[dict[str, Any]]:
    return [
        n["params"]["value"]
        for n in d.notifications
        if n["method"] == "$/progress" and n["params"]["token"] == token
    ]


async def test_a_paced_stream_is_relayed_delta_by_delta(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    async with raw_daemon(openai_env(env, fake_openai), options()) as d:
        fake_openai.queue(SlowStream(chunks=5, interval_s=0.05, piece="tick "))
        result = await d.result(
            "dspex/chat", chat_params(provider="openai", partialResultToken="p")
        )
        chunks = _progress(d, "p")
        # Deltas 50 ms apart each leave on their own (nothing waits to be merged).
        assert [c["delta"]["content"] for c in chunks] == ["tick "] * 5
        assert result["choices"][0]["message"]["content"] == "tick " * 5


async def test_a_burst_leaves_merged_in_order_and_the_answer_is_unchanged(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    text = "one two three four five six seven"
    async with raw_daemon(openai_env(env, fake_openai), options()) as d:
        fake_openai.queue(Reply(text=text))
        result = await d.result(
            "dspex/chat", chat_params(provider="openai", partialResultToken="b")
        )
        chunks = _progress(d, "b")
        # The answer's deltas arrive in one or a few reads: fewer messages than deltas, and
        # all of them before the answer (they are all here when it is).
        assert 1 <= len(chunks) < len(text.split())
        assert "".join(c["delta"]["content"] for c in chunks) == text
        assert result["choices"][0]["message"]["content"] == text
        for chunk in chunks:
            ChatChunk.model_validate(chunk)


_texts = st.none() | st.text(max_size=4) | st.integers(0, 2) | st.lists(st.just("x"), max_size=1)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.just("assistant"),
            "content": _texts,
            "reasoning_content": _texts,
            "reasoning": _texts,
            "refusal": _texts,
        },
    ),
    st.sampled_from([None, "stop", "length"]),
)
def test_the_compat_fast_path_reads_a_text_delta_as_the_general_reader_does(
    delta: dict[str, Any], finish: str | None
) -> None:
    import dspex_server.providers.openai_compat_parse as parse

    chunk = {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    fast = parse.StreamReader().read(chunk, "r")
    saved = parse._TEXT_ONLY
    parse._TEXT_ONLY = frozenset()  # type: ignore[misc]
    try:
        general = parse.StreamReader().read(chunk, "r")
    finally:
        parse._TEXT_ONLY = saved  # type: ignore[misc]
    assert fast == general


@given(
    st.fixed_dictionaries(
        {"role": st.just("assistant")},
        optional={
            "content": _texts,
            "refusal": _texts,
            "tool_calls": st.none() | st.just([]),
            "function_call": st.none(),
            "annotations": st.just([]),
        },
    ),
    st.sampled_from([None, "stop", "length", "tool_calls"]),
)
def test_the_compat_fast_path_reads_a_plain_answer_as_the_general_reader_does(
    message: dict[str, Any], finish: str | None
) -> None:
    import dspex_server.providers.openai_compat_parse as parse

    choice = {"index": 0, "message": message, "finish_reason": finish}
    fast = parse.parse_choice(choice, "openai", "m")
    saved = parse._PLAIN_MESSAGE
    parse._PLAIN_MESSAGE = frozenset()  # type: ignore[misc]
    try:
        general = parse.parse_choice(choice, "openai", "m")
    finally:
        parse._PLAIN_MESSAGE = saved  # type: ignore[misc]
    assert fast == general
