"""The streamed path's own delta types: what every adapter's stream parser yields, per event.

A streamed answer is tens to thousands of small deltas; building and dumping a pydantic
`ChatDelta` / `ToolCallDelta` for each was a measurable part of the daemon's CPU per chunk
(docs/benchmarks.md). `Delta` and `CallFragment` are slotted dataclasses with the same
field names, and `to_wire()` builds the JSON-ready dict that `ChatDelta.to_wire()` would
(camelCase keys, unset fields left out); tests hold the two equal. Whole parts (a server
tool's result, a reasoning signature) and logprobs stay protocol models: they are rare, and
are dumped with their own `to_wire()`.

Field order: a delta applies its fields in `FIELD_ORDER` (reasoning, content, refusal,
parts, logprobs, toolCalls), which is how the accumulator (base.py) and every client read
one; `coalesce` merges consecutive deltas only where that order keeps the sequence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dspex_protocol import AssistantPart, TokenLogprob

FIELD_ORDER = ("reasoning", "content", "refusal", "parts", "logprobs", "tool_calls")
_RANK = {name: rank for rank, name in enumerate(FIELD_ORDER)}


@dataclass(slots=True)
class CallFragment:
    """A fragment of a streamed tool call (`ToolCallDelta` on the wire): `arguments` is a
    piece of the JSON text; the first fragment of an index that names an id or a name
    gives it."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None
    signature: str | None = None
    item_id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"index": self.index}
        if self.id is not None:
            wire["id"] = self.id
        if self.name is not None:
            wire["name"] = self.name
        if self.arguments is not None:
            wire["arguments"] = self.arguments
        if self.signature is not None:
            wire["signature"] = self.signature
        if self.item_id is not None:
            wire["itemId"] = self.item_id
        return wire


@dataclass(slots=True)
class Delta:
    """A piece of a streamed answer (`ChatDelta` on the wire)."""

    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[CallFragment] | None = None
    parts: list[AssistantPart] | None = None
    logprobs: list[TokenLogprob] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {}
        if self.content is not None:
            wire["content"] = self.content
        if self.reasoning is not None:
            wire["reasoning"] = self.reasoning
        if self.refusal is not None:
            wire["refusal"] = self.refusal
        if self.tool_calls is not None:
            wire["toolCalls"] = [fragment.to_wire() for fragment in self.tool_calls]
        if self.parts is not None:
            wire["parts"] = [part.to_wire() for part in self.parts]
        if self.logprobs is not None:
            wire["logprobs"] = [token.to_wire() for token in self.logprobs]
        return wire

    def ranks(self) -> tuple[int, int] | None:
        """(lowest, highest) FIELD_ORDER rank of the fields this delta sets (a field set to
        an empty string or list counts as unset); None for an empty delta."""
        low = high = -1
        for rank, value in enumerate(
            (self.reasoning, self.content, self.refusal, self.parts, self.logprobs)
        ):
            if value:
                high = rank
                if low < 0:
                    low = rank
        if self.tool_calls:
            high = 5
            if low < 0:
                low = 5
        return None if low < 0 else (low, high)


def merged(first: Delta, then: Delta) -> Delta | None:
    """One delta saying what `first` then `then` say, or None where one cannot (`then`
    sets a field that comes before one `first` sets: merging would reorder them). Text
    fields concatenate; parts, logprobs and tool-call fragments follow each other (a
    fragment continuing the last one's call joins it). Neither input is changed."""
    old, new = first.ranks(), then.ranks()
    if new is None:
        return first
    if old is None:
        return then
    if old[1] > new[0]:
        return None
    return Delta(
        content=_join(first.content, then.content),
        reasoning=_join(first.reasoning, then.reasoning),
        refusal=_join(first.refusal, then.refusal),
        tool_calls=_fragments(first.tool_calls, then.tool_calls),
        parts=_concat(first.parts, then.parts),
        logprobs=_concat(first.logprobs, then.logprobs),
    )


def coalesce(deltas: Iterable[Delta]) -> list[Delta]:
    """Fewer deltas, same answer: each joins the one before it where `merged` can."""
    out: list[Delta] = []
    for delta in deltas:
        if out:
            joined = merged(out[-1], delta)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(delta)
    return out


def _join(a: str | None, b: str | None) -> str | None:
    if not b:
        return a
    return b if not a else a + b


def _concat(a: list[Any] | None, b: list[Any] | None) -> list[Any] | None:
    if not b:
        return a
    return b if not a else [*a, *b]


def _fragments(
    a: list[CallFragment] | None, b: list[CallFragment] | None
) -> list[CallFragment] | None:
    """Fragments of `a` then `b`; a fragment of the same call as the one before it (same
    index, naming nothing new) has its arguments appended to it."""
    if not a or not b:
        return _concat(a, b)
    out = list(a)
    for fragment in b:
        last = out[-1]
        if (
            fragment.index == last.index
            and fragment.id is None
            and fragment.name is None
            and fragment.signature is None
            and fragment.item_id is None
        ):
            arguments = _join(last.arguments, fragment.arguments)
            out[-1] = CallFragment(
                last.index, last.id, last.name, arguments, last.signature, last.item_id
            )
        else:
            out.append(fragment)
    return out


__all__ = ["FIELD_ORDER", "CallFragment", "Delta", "coalesce", "merged"]
