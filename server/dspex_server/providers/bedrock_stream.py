"""ConverseStream: AWS event-stream frames (decoded by botocore) turned into stream parts.

Each frame carries `:message-type` (event / exception / error) and `:event-type`
(messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageStop,
metadata) headers and a JSON payload. Text and reasoning stream token by token; a
reasoning signature or redacted reasoning closes its block as a whole part; a built-in
tool's use and result (Nova's code interpreter) become one server_tool part once its
result has streamed; block kinds added later are skipped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dspex_protocol import AssistantPart, ErrorKind, ReasoningPart

from ..errors import DspexError
from . import bedrock_wire as wire
from .base import StreamPart
from .bedrock_request import SERVER_TOOL_USE
from .delta import CallFragment, Delta
from .http import HttpAdapter


def _header(headers: dict[str, Any], name: str) -> str:
    value = headers.get(name)
    return value.decode() if isinstance(value, bytes) else str(value or "")


class ConverseStreamParser:
    def __init__(self, adapter: HttpAdapter, model: str) -> None:
        self.adapter = adapter
        self.provider = adapter.name
        self.model = model
        self.tool_index: dict[int, int] = {}  # content block index -> tool call ordinal
        # Nova's built-in tools: their toolUse blocks (input pieces) by block index, the
        # uses awaiting their toolResult by id, the results being streamed by block index.
        self.server_uses: dict[int, tuple[dict[str, Any], list[str]]] = {}
        self.awaiting: dict[str, dict[str, Any]] = {}
        self.results: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self.citations: dict[int, list[dict[str, Any]]] = {}  # web grounding's sources
        self.stopped = False
        self.finished = False

    def _error(self, kind: ErrorKind, message: str, **extra: Any) -> DspexError:
        return DspexError(kind, message, provider=self.provider, model=self.model, **extra)

    async def parts(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[StreamPart]:
        from botocore.eventstream import EventStreamBuffer

        buffer = EventStreamBuffer()
        async for chunk in chunks:
            buffer.add_data(chunk)
            for message in self._messages(buffer):
                if message is None:
                    yield StreamPart(malformed=1)  # skipped, counted: the rest still flows
                    continue
                part = self.on_message(message.headers, message.payload)
                if part is not None:
                    yield part
                if self.finished:
                    return
        if not self.stopped:
            raise self.adapter.stream_cut(self.model, "messageStop")

    def _messages(self, buffer: Any) -> list[Any]:
        """The complete frames in `buffer`; None for one whose message CRC is wrong (its
        prelude is sound, so exactly that frame is skipped). A damaged prelude loses the
        framing itself: an invalid response."""
        from botocore.eventstream import ChecksumMismatch, ParserError

        messages: list[Any] = []
        while True:
            try:
                messages.append(next(buffer))
            except StopIteration:
                return messages
            except ChecksumMismatch:
                if buffer._prelude is None:  # the prelude's own CRC: framing lost
                    raise self._error(
                        ErrorKind.INVALID_RESPONSE,
                        "malformed event-stream frame: its prelude's CRC is wrong",
                    ) from None
                buffer._prepare_for_next_message()  # drop exactly the damaged frame
                messages.append(None)
            except ParserError as exc:
                raise self._error(
                    ErrorKind.INVALID_RESPONSE,
                    f"malformed event-stream frame: {type(exc).__name__}",
                ) from None

    def on_message(self, headers: dict[str, Any], payload: bytes) -> StreamPart | None:
        kind = _header(headers, ":message-type")
        if kind == "exception":
            raise self._exception(_header(headers, ":exception-type"), payload)
        if kind == "error":
            code = _header(headers, ":error-code")
            raise self._error(
                ErrorKind.API_ERROR,
                f"{_header(headers, ':error-message') or 'stream error'} ({code})",
                details={"code": code} if code else None,
            )
        try:
            data = json.loads(payload) if payload else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):  # a malformed event: skipped, counted
            return StreamPart(malformed=1)
        return self.on_event(_header(headers, ":event-type"), data)

    def _exception(self, raw_name: str, payload: bytes) -> DspexError:
        name = wire.error_name(raw_name) or "UnknownException"
        try:
            message = str(json.loads(payload).get("message") or name)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            message = name
        kind, retryable = self.adapter.classify(None, name)
        return self._error(kind, f"{message} ({name})", retryable=retryable, details={"code": name})

    def on_event(self, event: str, data: dict[str, Any]) -> StreamPart | None:
        index = int(data.get("contentBlockIndex") or 0)
        if event == "contentBlockStart":
            return self._start(index, data.get("start") or {})
        if event == "contentBlockDelta":
            return self._delta(index, data.get("delta") or {})
        if event == "contentBlockStop":
            return self._stop(index)
        if event == "messageStop":
            self.stopped = True
            # A built-in tool whose result never came is still reported, before the end.
            unanswered = [wire.server_tool_part(use, None) for use in self.awaiting.values()]
            self.awaiting.clear()
            return StreamPart(
                delta=Delta(parts=list(unanswered)) if unanswered else None,
                finish_reason=wire.stop_reason(data.get("stopReason"), bool(self.tool_index)),
            )
        if event == "metadata":
            self.finished = self.stopped
            return StreamPart(usage=wire.parse_usage(data.get("usage")))
        return None  # messageStart, and event kinds added later

    def _start(self, index: int, start: dict[str, Any]) -> StreamPart | None:
        use = start.get("toolUse")
        if isinstance(use, dict) and use.get("type") == SERVER_TOOL_USE:
            self.server_uses[index] = (dict(use), [])
            return None
        if isinstance(use, dict):
            ordinal = self.tool_index.setdefault(index, len(self.tool_index))
            call = CallFragment(
                index=ordinal, id=str(use.get("toolUseId")), name=str(use.get("name"))
            )
            return StreamPart(delta=Delta(tool_calls=[call]))
        result = start.get("toolResult")
        if isinstance(result, dict):
            self.results[index] = (dict(result), [])
        return None  # image blocks and kinds added later carry no text

    def _delta(self, index: int, delta: dict[str, Any]) -> StreamPart | None:
        if isinstance(delta.get("text"), str):
            return StreamPart(delta=Delta(content=delta["text"])) if delta["text"] else None
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            return self._reasoning(reasoning)
        use = delta.get("toolUse")
        if isinstance(use, dict):
            piece = str(use.get("input", ""))
            if index in self.server_uses:
                self.server_uses[index][1].append(piece)
                return None
            ordinal = self.tool_index.setdefault(index, len(self.tool_index))
            call = CallFragment(index=ordinal, arguments=piece)
            return StreamPart(delta=Delta(tool_calls=[call]))
        items = delta.get("toolResult")
        if isinstance(items, list) and index in self.results:
            content = self.results[index][1]
            for item in items:
                if isinstance(item, dict) and content and _both_text(content[-1], item):
                    content[-1] = {"text": content[-1]["text"] + item["text"]}
                elif isinstance(item, dict):
                    content.append(item)
            return None
        citation = delta.get("citation")
        if isinstance(citation, dict):
            self.citations.setdefault(index, []).append(citation)
        return None

    def _reasoning(self, reasoning: dict[str, Any]) -> StreamPart | None:
        """Reasoning text by pieces; a signature closes the block, redacted content is a
        block of its own (one delta may carry text and its signature together)."""
        text = reasoning.get("text")
        text = text if isinstance(text, str) else None
        wholes: list[AssistantPart] = []
        if isinstance(reasoning.get("signature"), str):
            wholes.append(ReasoningPart(signature=reasoning["signature"]))
        if reasoning.get("redactedContent") is not None:
            wholes.append(ReasoningPart(data=str(reasoning["redactedContent"])))
        if not text and not wholes:
            return None
        delta = Delta(reasoning=text or None, parts=wholes or None)
        return StreamPart(delta=delta)

    def _stop(self, index: int) -> StreamPart | None:
        if index in self.server_uses:
            use, pieces = self.server_uses.pop(index)
            try:
                use["input"] = json.loads("".join(pieces) or "{}")
            except json.JSONDecodeError:
                raise self._error(
                    ErrorKind.INVALID_RESPONSE, "a built-in tool's input is not valid JSON"
                ) from None
            self.awaiting[str(use.get("toolUseId"))] = use
            return None  # reported with its result
        if index in self.results:
            result, content = self.results.pop(index)
            use_id = str(result.get("toolUseId"))
            use = self.awaiting.pop(use_id, {"toolUseId": use_id, "name": result.get("type")})
            part = wire.server_tool_part(use, {**result, "content": content})
            return StreamPart(delta=Delta(parts=[part]))
        if index in self.citations:
            part = wire.citations_part(index, self.citations.pop(index))
            return StreamPart(delta=Delta(parts=[part]))
        return None


def _both_text(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return set(a) == {"text"} == set(b) and isinstance(a["text"], str)
