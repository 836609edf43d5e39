"""Responses API output items as dspex parts: shared by the plain and the stream parser.

Each output item becomes what it is: a `message` its text (one text part per
`output_text`, carrying the item id) and refusals, a `reasoning` item a reasoning part
(its summaries, or its reasoning text, joined by blank lines; its id and encrypted
content), a `function_call` a tool call (the call id as its id, the item id kept), and
every other item (web_search_call, file_search_call, code_interpreter_call,
image_generation_call, mcp_call, mcp_list_tools, compaction, and item types added later)
a server-tool part that keeps the item whole, so that it can be sent back as it came.
"""

from __future__ import annotations

from typing import Any

from dspex_protocol import (
    ErrorKind,
    FinishReason,
    ReasoningPart,
    ServerToolPart,
    TextPart,
    TokenLogprob,
    TopLogprob,
    Usage,
)

from .base import token_usage
from .delta import CallFragment, Delta

# Item types whose fields describe the call (sent as `input`); the other fields (status,
# results, outputs, result, error, tools, ...) are its result (`output`).
CALL_FIELDS = frozenset(
    {
        "action",
        "queries",
        "code",
        "container_id",
        "server_label",
        "name",
        "arguments",
        "approval_request_id",
        "call_id",
        "input",
        "encrypted_content",
    }
)
# Server-tool item types by dspex's common tool names (others: the type without `_call`).
TOOL_NAMES: dict[str, str] = {
    "web_search_call": "web_search",
    "file_search_call": "file_search",
    "code_interpreter_call": "code_execution",
    "image_generation_call": "image_generation",
    "mcp_call": "mcp",
}
CLIENT_ITEMS = frozenset({"message", "reasoning", "function_call"})
INCOMPLETE_REASONS: dict[str, FinishReason] = {
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
SUMMARY_SEPARATOR = "\n\n"
# Error codes of a failed response (or a stream's error event): kind, retryable.
ERROR_CODES: dict[str, tuple[ErrorKind, bool]] = {
    "server_error": (ErrorKind.API_ERROR, True),
    "rate_limit_exceeded": (ErrorKind.RATE_LIMITED, True),
    "insufficient_quota": (ErrorKind.RATE_LIMITED, False),
    "context_length_exceeded": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_prompt": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_request_error": (ErrorKind.INVALID_MESSAGES, False),
    "vector_store_timeout": (ErrorKind.TIMEOUT, True),
    "invalid_image": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_image_format": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_base64_image": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_image_url": (ErrorKind.INVALID_MESSAGES, False),
    "image_too_large": (ErrorKind.INVALID_MESSAGES, False),
    "image_too_small": (ErrorKind.INVALID_MESSAGES, False),
    "image_parse_error": (ErrorKind.INVALID_MESSAGES, False),
    "image_content_policy_violation": (ErrorKind.INVALID_MESSAGES, False),
    "invalid_image_mode": (ErrorKind.INVALID_MESSAGES, False),
    "image_file_too_large": (ErrorKind.INVALID_MESSAGES, False),
    "unsupported_image_media_type": (ErrorKind.INVALID_MESSAGES, False),
    "empty_image_file": (ErrorKind.INVALID_MESSAGES, False),
    "failed_to_download_image": (ErrorKind.INVALID_MESSAGES, False),
    "image_file_not_found": (ErrorKind.INVALID_MESSAGES, False),
}


def parse_usage(raw: Any) -> Usage | None:
    """`input_tokens` includes the cached reads and writes; `output_tokens` the reasoning."""
    if not isinstance(raw, dict):
        return None
    inp = raw.get("input_tokens_details")
    out = raw.get("output_tokens_details")
    inp = inp if isinstance(inp, dict) else {}
    out = out if isinstance(out, dict) else {}
    return token_usage(
        raw.get("input_tokens"),
        raw.get("output_tokens"),
        raw.get("total_tokens"),
        cached=inp.get("cached_tokens"),
        cache_write=inp.get("cache_write_tokens"),
        reasoning=out.get("reasoning_tokens"),
    )


def finish_reason(response: dict[str, Any], has_calls: bool) -> FinishReason:
    """A response's finish: `incomplete` for its reason (max_output_tokens: length), else
    tool_calls where the answer calls tools, else stop."""
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return INCOMPLETE_REASONS.get(str(reason), "length")
    return "tool_calls" if has_calls else "stop"


def reasoning_text(item: dict[str, Any]) -> tuple[str, bool]:
    """(the reasoning text, whether it is a summary): the summaries, else the reasoning
    text contents, each joined by blank lines."""
    summaries = [
        str(s.get("text") or "")
        for s in item.get("summary") or ()
        if isinstance(s, dict) and s.get("text")
    ]
    if summaries:
        return SUMMARY_SEPARATOR.join(summaries), True
    contents = [
        str(c.get("text") or "")
        for c in item.get("content") or ()
        if isinstance(c, dict) and c.get("type") == "reasoning_text" and c.get("text")
    ]
    return SUMMARY_SEPARATOR.join(contents), False


def closing_reasoning(item: dict[str, Any], summary: bool) -> ReasoningPart:
    """The whole part that closes a reasoning item: its id and encrypted content."""
    data = item.get("encrypted_content")
    return ReasoningPart(
        id=_str(item.get("id")),
        data=data if isinstance(data, str) and data else None,
        summary=summary,
    )


def server_tool_part(item: dict[str, Any]) -> ServerToolPart:
    kind = str(item.get("type") or "unknown")
    fields = {k: v for k, v in item.items() if k not in ("type", "id")}
    call = {k: v for k, v in fields.items() if k in CALL_FIELDS}
    result = {k: v for k, v in fields.items() if k not in CALL_FIELDS}
    return ServerToolPart(
        id=str(item.get("id") or ""),
        name=TOOL_NAMES.get(kind, kind.removesuffix("_call")),
        input=call,
        output=result or None,
        result_type=kind,
        is_error=item.get("status") in ("failed", "incomplete") or bool(item.get("error")),
    )


def token_logprobs(raw: Any) -> list[TokenLogprob]:
    if not isinstance(raw, list):
        return []
    out = []
    for entry in raw:
        if not isinstance(entry, dict) or "token" not in entry:
            continue
        tops = [
            TopLogprob(
                token=str(t.get("token", "")),
                logprob=float(t.get("logprob") or 0.0),
                bytes=t.get("bytes"),
            )
            for t in entry.get("top_logprobs") or ()
            if isinstance(t, dict)
        ]
        out.append(
            TokenLogprob(
                token=str(entry["token"]),
                logprob=float(entry.get("logprob") or 0.0),
                bytes=entry.get("bytes"),
                top_logprobs=tops or None,
            )
        )
    return out


class OutputAssembler:
    """Turns output items, piece by piece, into the deltas of the answer. The stream
    parser drives it with the typed events as they come; the plain parser with each item
    whole; both get the same deltas, so a streamed answer is assembled exactly as the
    plain one. Items are addressed by their output index; tool calls are renumbered 0, 1,
    ... in the order they start.

    A message's text part opens with its item id (a whole empty text part, just before
    its first piece, that the text continues). A reasoning item's text arrives as
    reasoning pieces (its summaries or reasoning texts joined by blank lines); its end
    brings a whole part with its id and encrypted content that closes it, or stands alone
    when its text was not the last thing said (another item's text came in between)."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}  # output index -> tool call index
        self.named: set[int] = set()  # calls whose id and name were sent
        self.args_sent: set[int] = set()
        self.opened: set[int] = set()  # messages whose text part was opened
        self.pending: dict[int, str] = {}  # their item ids, sent with their first text
        self.said: set[int] = set()  # messages whose text (or refusal) was sent
        self.segments: dict[int, list[Any]] = {}  # reasoning segments begun, per item
        self.open_reasoning: int | None = None  # the item whose reasoning text is last
        self.has_calls = False

    def _spoke(self, index: int) -> None:
        self.said.add(index)
        self.open_reasoning = None

    def text_start(self, index: int, item_id: str | None) -> list[Delta]:
        """A text content begins; its item id goes out just before its first piece (a
        message that says nothing sends nothing)."""
        self.opened.add(index)
        if item_id:
            self.pending[index] = item_id
        return []

    def text(self, index: int, piece: str, logprobs: Any = None) -> list[Delta]:
        probs = token_logprobs(logprobs) or None
        if not piece and probs is None:
            return []
        deltas: list[Delta] = []
        if piece:
            self._spoke(index)
            item_id = self.pending.pop(index, None)
            if item_id is not None:
                deltas.append(Delta(parts=[TextPart(text="", id=item_id)]))
        return [*deltas, Delta(content=piece or None, logprobs=probs)]

    def refusal(self, index: int, piece: str) -> list[Delta]:
        if not piece:
            return []
        self._spoke(index)
        return [Delta(refusal=piece)]

    def text_done(self, index: int, kind: str, whole: str, item_id: str | None) -> list[Delta]:
        """A text or refusal content's final text: sent here when no piece of it was."""
        if index in self.said or not whole:
            return []
        if kind == "refusal":
            return self.refusal(index, whole)
        if index not in self.opened:
            self.text_start(index, item_id)
        return self.text(index, whole)

    def message_done(self, index: int, item: dict[str, Any]) -> list[Delta]:
        """A message item none of whose text was streamed: all of it now."""
        if index in self.said:
            return []
        return self._message(index, item)

    def _message(self, index: int, item: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        item_id = _str(item.get("id"))
        for content in item.get("content") or ():
            if not isinstance(content, dict):
                continue
            if content.get("type") == "output_text":
                deltas += self.text_start(index, item_id)
                deltas += self.text(index, str(content.get("text") or ""), content.get("logprobs"))
            elif content.get("type") == "refusal":
                deltas += self.refusal(index, str(content.get("refusal") or ""))
        return deltas

    def reasoning(self, index: int, segment: Any, piece: str) -> list[Delta]:
        """A piece of one of a reasoning item's summaries or texts (`segment` names it);
        a new segment after the first begins with a blank line."""
        if not piece:
            return []
        begun = self.segments.setdefault(index, [])
        if segment not in begun:
            if begun:
                piece = SUMMARY_SEPARATOR + piece
            begun.append(segment)
        self.open_reasoning = index
        return [Delta(reasoning=piece)]

    def reasoning_done(self, index: int, item: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        text, summary = reasoning_text(item)
        if index not in self.segments and text:
            deltas += self.reasoning(index, "whole", text)
        closing = closing_reasoning(item, summary)
        merge = self.open_reasoning == index
        if not merge and index in self.segments and not closing.data:
            # Its text was sent, then another item's: nothing left to say on its own.
            return deltas
        if not merge and self.open_reasoning is not None:
            # Another item's reasoning is the open block: stand alone, never close it.
            closing = closing.model_copy(update={"text": ""})
        if merge or closing.id or closing.data:
            deltas.append(Delta(parts=[closing]))
            # Like the answer builder: a reasoning part without opaque data stays open.
            self.open_reasoning = None if closing.data else index
        return deltas

    def call_start(
        self, index: int, call_id: str | None, name: str | None, item_id: str | None
    ) -> list[Delta]:
        self.has_calls = True
        number = self.calls.setdefault(index, len(self.calls))
        if call_id is not None:
            self.named.add(index)
        frag = CallFragment(index=number, id=call_id, name=name, item_id=item_id)
        return [Delta(tool_calls=[frag])]

    def call_args(self, index: int, piece: str) -> list[Delta]:
        if not piece:
            return []
        deltas = [] if index in self.calls else self.call_start(index, None, None, None)
        self.args_sent.add(index)
        frag = CallFragment(index=self.calls[index], arguments=piece)
        return [*deltas, Delta(tool_calls=[frag])]

    def call_done(self, index: int, item: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        if index not in self.named:
            deltas += self.call_start(
                index, _str(item.get("call_id")), _str(item.get("name")), _str(item.get("id"))
            )
        if index not in self.args_sent:
            deltas += self.call_args(index, str(item.get("arguments") or ""))
        return deltas

    def server_tool(self, index: int, item: dict[str, Any]) -> list[Delta]:
        self._spoke(index)
        return [Delta(parts=[server_tool_part(item)])]

    def item_done(self, index: int, item: dict[str, Any]) -> list[Delta]:
        """An output item complete: what of it was not sent piece by piece."""
        kind = item.get("type")
        if kind == "message":
            return self.message_done(index, item)
        if kind == "reasoning":
            return self.reasoning_done(index, item)
        if kind == "function_call":
            return self.call_done(index, item)
        return self.server_tool(index, item)

    def whole_item(self, index: int, item: dict[str, Any]) -> list[Delta]:
        """A plain answer's item, as the stream would have sent it."""
        kind = item.get("type")
        if kind == "message":
            return self._message(index, item)
        if kind == "function_call":
            deltas = self.call_start(
                index, _str(item.get("call_id")), _str(item.get("name")), _str(item.get("id"))
            )
            return deltas + self.call_args(index, str(item.get("arguments") or ""))
        return self.item_done(index, item)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
