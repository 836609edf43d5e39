"""Anthropic Messages API: the SSE stream's events as stream parts.

Text and thinking arrive token by token (`text_delta`, `thinking_delta`); a thinking
block's `signature_delta` closes it, a `redacted_thinking` block comes whole. Client
`tool_use` blocks stream their input as tool-call fragments; `server_tool_use` and
`mcp_tool_use` blocks stream theirs too (`input_json_delta`), kept until the block's
`*_tool_result` arrives, then sent as one server-tool part. Event and block types this
parser does not know are skipped, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dspex_protocol import AssistantPart, ReasoningPart

from .anthropic_parse import (
    SERVER_USES,
    finish_reason,
    is_result,
    parse_usage,
    server_tool_part,
)
from .base import StreamPart
from .delta import CallFragment, Delta
from .http import Malformed

if TYPE_CHECKING:
    from .anthropic import AnthropicAdapter


@dataclass
class _ServerUse:
    block: dict[str, Any]
    pieces: list[str] = field(default_factory=list)

    def whole(self) -> dict[str, Any]:
        """The use block with its input assembled (kept as text where it is no JSON)."""
        raw = "".join(self.pieces)
        if not raw.strip():
            return self.block
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        return {**self.block, "input": value}


class StreamParser:
    """Content blocks are numbered across every kind; client tool calls are renumbered
    0, 1, … so that clients see the same indexes as on Chat Completions. Usage arrives in
    two halves (message_start: input, message_delta: cumulative output) and is sent whole
    each time."""

    def __init__(self, adapter: AnthropicAdapter, model: str, req_id: str | None) -> None:
        self.adapter = adapter
        self.model = model
        self.request_id = req_id
        self.usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}  # block index -> tool call index
        self.streaming_uses: dict[int, _ServerUse] = {}  # block index -> server use
        self.uses: dict[str, dict[str, Any]] = {}  # tool use id -> whole use block
        self.stopped = False
        self.finished = False  # a message_delta with the stop reason arrived

    def feed(self, event: Any) -> StreamPart | None:
        if isinstance(event, Malformed) or not isinstance(event, dict):
            return StreamPart(malformed=1)  # skipped, counted: the rest still flows
        kind = event.get("type")
        if kind == "error":
            raise self.adapter.payload_error(event, self.model, fallback="stream error")
        if kind == "message_start":
            return self._start(event.get("message") or {})
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._block_delta(event)
        if kind == "content_block_stop":
            self._block_stop(event)
            return None
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "message_stop":
            self.stopped = True
        # ping and event types added later carry nothing to forward.
        return None

    def _add_usage(self, raw: Any) -> None:
        if isinstance(raw, dict):
            self.usage.update({k: v for k, v in raw.items() if v is not None})

    def _start(self, message: dict[str, Any]) -> StreamPart:
        self._add_usage(message.get("usage"))
        model = message.get("model")
        return StreamPart(
            model=None if model is None else str(model),
            usage=parse_usage(self.usage),
            request_id=self.request_id or _str(message.get("id")),
        )

    def _message_delta(self, event: dict[str, Any]) -> StreamPart:
        delta = event.get("delta") or {}
        self._add_usage(event.get("usage"))
        reason = delta.get("stop_reason")
        self.finished = self.finished or bool(reason)
        # Server tools whose results never came (the turn paused): sent as they are.
        pending = [server_tool_part(use, None) for use in self.uses.values()]
        self.uses.clear()
        return StreamPart(
            delta=_parts(pending) if pending else None,
            finish_reason=finish_reason(reason, bool(self.tool_index)) if reason else None,
            usage=parse_usage(self.usage),
        )

    def _block_start(self, event: dict[str, Any]) -> StreamPart | None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return None
        index = _index(event)
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            return StreamPart(delta=Delta(content=str(text))) if text else None
        if kind == "thinking":
            # Normally empty here (the text and signature follow as deltas).
            thinking, signature = block.get("thinking"), block.get("signature")
            if signature:
                whole = ReasoningPart(text=str(thinking) or None, signature=str(signature))
                return StreamPart(delta=_parts([whole]))
            return StreamPart(delta=Delta(reasoning=str(thinking))) if thinking else None
        if kind == "redacted_thinking":
            return StreamPart(delta=_parts([ReasoningPart(data=str(block.get("data") or ""))]))
        if kind == "tool_use":
            call_index = self.tool_index.setdefault(index, len(self.tool_index))
            call = CallFragment(
                index=call_index, id=_str(block.get("id")), name=_str(block.get("name"))
            )
            return StreamPart(delta=Delta(tool_calls=[call]))
        if kind in SERVER_USES:
            self.streaming_uses[index] = _ServerUse(block)
            return None
        if is_result(kind):
            use = self.uses.pop(str(block.get("tool_use_id")), None)
            return StreamPart(delta=_parts([server_tool_part(use, block)]))
        return None  # compaction, container_upload, later additions: skipped

    def _block_delta(self, event: dict[str, Any]) -> StreamPart | None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return None
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return StreamPart(delta=Delta(content=str(delta["text"])))
        if kind == "thinking_delta" and delta.get("thinking"):
            return StreamPart(delta=Delta(reasoning=str(delta["thinking"])))
        if kind == "signature_delta" and delta.get("signature"):
            # Closes the thinking block streamed so far.
            return StreamPart(delta=_parts([ReasoningPart(signature=str(delta["signature"]))]))
        if kind == "input_json_delta" and delta.get("partial_json"):
            index = _index(event)
            piece = str(delta["partial_json"])
            call_index = self.tool_index.get(index)
            if call_index is not None:
                frag = CallFragment(index=call_index, arguments=piece)
                return StreamPart(delta=Delta(tool_calls=[frag]))
            use = self.streaming_uses.get(index)
            if use is not None:
                use.pieces.append(piece)
        # citations_delta, compaction_delta, later additions: nothing to forward.
        return None

    def _block_stop(self, event: dict[str, Any]) -> None:
        use = self.streaming_uses.pop(_index(event), None)
        if use is not None:
            whole = use.whole()
            self.uses[str(whole.get("id"))] = whole


def _parts(parts: Sequence[AssistantPart]) -> Delta:
    return Delta(parts=list(parts))


def _index(event: dict[str, Any]) -> int:
    try:
        return int(event.get("index", 0))
    except (TypeError, ValueError):
        return -1


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
