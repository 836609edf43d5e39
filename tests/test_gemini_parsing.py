"""The Gemini answer reader and history builder, unit and property tests: a whole answer
and the same answer in chunks assemble alike, and every thought signature goes back on a
part of the kind it came on."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dspex_protocol import (
    Message,
    ReasoningPart,
    ServerToolPart,
    TextPart,
    TokenLogprob,
)
from dspex_server.providers.base import ProviderResponse, StreamAccumulator
from dspex_server.providers.delta import Delta, coalesce
from dspex_server.providers.gemini_request import SKIP_SIGNATURE, _ModelTurn
from dspex_server.providers.gemini_response import AnswerReader, parse_logprobs


def _read(*payloads: dict[str, Any], whole: bool = True) -> ProviderResponse:
    reader, acc = AnswerReader(ValueError), StreamAccumulator("gemini-3-pro-preview")
    for n, payload in enumerate(payloads):
        for part in reader.read(payload, last=whole and n == len(payloads) - 1):
            acc.add(part)
    return acc.response("gemini")


def _payload(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate]}


def test_a_signature_on_a_thought_part_goes_back_on_that_thought() -> None:
    parts = [
        {"text": "one", "thought": True},
        {"text": "two", "thought": True, "thoughtSignature": "s2"},
        {"text": "Answer."},
    ]
    message = _read(_payload(parts, "STOP")).message
    assert message.parts == [
        ReasoningPart(text="one", summary=True, signature="s2"),
        ReasoningPart(text="two", summary=True),
        TextPart(text="Answer."),
    ]
    sent = _ModelTurn("gemini-2.5-flash", lambda _: None).build(_history(message))
    assert sent == [{"text": "two", "thought": True, "thoughtSignature": "s2"}, {"text": "Answer."}]


def test_a_result_without_its_call_and_a_call_without_result_are_one_part_each() -> None:
    parts = [
        {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "boom"}},
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
    ]
    message = _read(_payload(parts, "STOP")).message
    orphan, unanswered = message.parts or []
    assert isinstance(orphan, ServerToolPart) and isinstance(unanswered, ServerToolPart)
    assert (orphan.input, orphan.is_error, orphan.result_type) == ({}, True, "codeExecutionResult")
    assert (unanswered.output, unanswered.result_type) == (None, None)
    sent = _ModelTurn("gemini-2.5-flash", lambda _: None).build(_history(message))
    assert sent == [
        {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "boom"}},
        {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
    ]


def test_server_tool_invocations_are_not_sent_to_models_before_gemini_3() -> None:
    parts = [
        {"toolCall": {"id": "t1", "toolType": "URL_CONTEXT", "args": {}}, "thoughtSignature": "a"},
        {"toolResponse": {"id": "t1", "toolType": "URL_CONTEXT"}, "thoughtSignature": "b"},
        {"text": "Read it."},
    ]
    message = _read(_payload(parts, "STOP")).message
    assert [p.type for p in message.parts or []] == [
        "reasoning",
        "reasoning",
        "server_tool",
        "text",
    ]
    assert _ModelTurn("gemini-2.5-flash", lambda _: None).build(_history(message)) == [
        {"text": "Read it."}
    ]


def test_unknown_part_kinds_are_skipped_and_their_signature_kept() -> None:
    parts = [{"inlineData": {"mimeType": "image/png", "data": "iVBO"}, "thoughtSignature": "s"}]
    message = _read(_payload([*parts, {"text": "A cat."}], "STOP")).message
    assert message.content == "A cat."
    assert message.parts == [ReasoningPart(signature="s"), TextPart(text="A cat.")]


def test_logprobs_take_each_steps_top_candidates_as_alternatives() -> None:
    raw = {
        "chosenCandidates": [{"token": "Hi", "logProbability": -0.5}, {"token": "!"}],
        "topCandidates": [{"candidates": [{"token": "Hi", "logProbability": -0.5}]}],
    }
    first, second = parse_logprobs(raw) or []
    assert (first.token, first.logprob, [t.token for t in first.top_logprobs or []]) == (
        "Hi",
        -0.5,
        ["Hi"],
    )
    assert (second.token, second.logprob, second.top_logprobs) == ("!", 0.0, None)


def _history(message: Any) -> Message:
    return Message(
        role="assistant",
        content=None if message.parts else message.content or "",
        parts=message.parts,
        tool_calls=message.tool_calls,
    )


# Gemini parts as the API sends them: texts and thoughts (signed or not), function calls,
# code execution and server-side tool invocations with their results.
_sig = st.one_of(st.none(), st.text("abcdefgh", min_size=4, max_size=8).map(lambda s: f"sig-{s}"))
_text = st.text("xyz ", min_size=1, max_size=12)
_ids = iter(range(10**9))


def _signed(part: dict[str, Any], sig: str | None) -> dict[str, Any]:
    return {**part, "thoughtSignature": sig} if sig else part


def _call_pair(kind: str, sig: str | None, sig2: str | None) -> list[dict[str, Any]]:
    n = next(_ids)
    if kind == "code":
        return [
            _signed({"executableCode": {"language": "PYTHON", "code": "1", "id": f"c{n}"}}, sig),
            _signed({"codeExecutionResult": {"outcome": "OUTCOME_OK", "id": f"c{n}"}}, sig2),
        ]
    call = {"id": f"t{n}", "toolType": "GOOGLE_SEARCH_WEB"}
    return [
        _signed({"toolCall": {**call, "args": {"queries": ["q"]}}}, sig),
        _signed({"toolResponse": {**call, "response": {"r": 1}}}, sig2),
    ]


_part = st.one_of(
    st.builds(lambda t, s: [_signed({"text": t}, s)], _text, _sig),
    st.builds(lambda t, s: [_signed({"text": t, "thought": True}, s)], _text, _sig),
    st.builds(
        lambda s: [_signed({"functionCall": {"name": "f", "args": {}, "id": f"f{next(_ids)}"}}, s)],
        _sig,
    ),
    # A call's signature comes on the call; its result is signed only if the call is.
    st.builds(
        lambda k, s, s2: _call_pair(k, s, s2 if s else None),
        st.sampled_from(["code", "tool"]),
        _sig,
        _sig,
    ),
)
_answers = st.builds(
    lambda groups, tail: [p for g in groups for p in g] + tail,
    st.lists(_part, max_size=8),
    st.one_of(st.just([]), _sig.filter(bool).map(lambda s: [{"text": "", "thoughtSignature": s}])),
)


def _kind(part: dict[str, Any]) -> str:
    keys = ("functionCall", "executableCode", "codeExecutionResult", "toolCall", "toolResponse")
    return next((k for k in keys if k in part), "thought" if part.get("thought") else "text")


def _chunks(parts: list[dict[str, Any]], cuts: list[int]) -> list[dict[str, Any]]:
    """The parts as a stream sends them: texts cut in two (the signature on the first
    piece), parts spread over chunks at `cuts`."""
    pieces: list[dict[str, Any]] = []
    for part in parts:
        text = part.get("text")
        if isinstance(text, str) and len(text) > 1:
            head, tail = dict(part), dict(part)
            head["text"], tail["text"] = text[: len(text) // 2], text[len(text) // 2 :]
            tail.pop("thoughtSignature", None)
            pieces += [head, tail]
        else:
            pieces.append(part)
    bounds = sorted({c % (len(pieces) + 1) for c in cuts} | {0, len(pieces)})
    groups = [pieces[a:b] for a, b in itertools.pairwise(bounds)]
    payloads = [_payload(g) for g in groups] or [_payload([])]
    payloads[-1]["candidates"][0]["finishReason"] = "STOP"
    return payloads


@given(_answers, st.lists(st.integers(0, 40), max_size=6))
def test_a_streamed_answer_assembles_like_the_whole_one(
    parts: list[dict[str, Any]], cuts: list[int]
) -> None:
    whole = _read(_payload(parts, "STOP")).message
    streamed = _read(*_chunks(parts, cuts), whole=False).message
    assert streamed == whole


@given(_answers)
def test_every_signature_goes_back_on_a_part_of_the_kind_it_came_on(
    parts: list[dict[str, Any]],
) -> None:
    message = _read(_payload(parts, "STOP")).message
    sent = _ModelTurn("gemini-3-pro-preview", lambda _: None).build(_history(message))
    signed = [(_kind(p), p["thoughtSignature"]) for p in parts if p.get("thoughtSignature")]
    back = [(_kind(p), p["thoughtSignature"]) for p in sent if p.get("thoughtSignature")]
    # Function calls go after the other parts: compare each group in its order.
    assert [s for s in back if s[0] != "functionCall"] == [
        s for s in signed if s[0] != "functionCall"
    ]
    calls_back = [s for s in back if s[0] == "functionCall" and s[1] != SKIP_SIGNATURE]
    assert calls_back == [s for s in signed if s[0] == "functionCall"]
    text = "".join(p["text"] for p in parts if _kind(p) == "text")
    assert "".join(p["text"] for p in sent if _kind(p) == "text") == text
    assert Counter(_kind(p) for p in sent if _kind(p) not in ("text", "thought")) == Counter(
        _kind(p) for p in parts if _kind(p) not in ("text", "thought")
    )


# The deltas the reader emits: texts, thought runs closed by their summary flag (and a
# signature), bare signatures, logprobs.
_deltas = st.lists(
    st.one_of(
        st.builds(lambda t: [Delta(content=t)], _text),
        st.builds(
            lambda ts, s: (
                [Delta(reasoning=t) for t in ts]
                + [Delta(parts=[ReasoningPart(summary=True, signature=s)])]
            ),
            st.lists(_text, min_size=1, max_size=3),
            _sig,
        ),
        st.builds(lambda s: [Delta(parts=[ReasoningPart(signature=s)])], _sig.filter(bool)),
        st.builds(lambda t: [Delta(logprobs=[TokenLogprob(token=t, logprob=-1.0)])], _text),
    ),
    max_size=8,
).map(lambda groups: [d for g in groups for d in g])


@given(_deltas)
def test_coalescing_deltas_never_changes_the_answer(deltas: list[Delta]) -> None:
    def assembled(ds: list[Delta]) -> Any:
        acc = StreamAccumulator("m")
        for delta in ds:
            acc.add_delta(delta)
        return acc.response("gemini").message

    assert assembled(coalesce(deltas)) == assembled(deltas)
