"""ConverseStream: AWS event-stream frames (decoded by botocore) turned into stream parts.

Each frame carries `:message-type` (event / exception / error) and `:event-type`
(messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageStop,
metadata) headers and a JSON payload.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dspex_protocol import ChatDelta, ErrorKind, ToolCallDelta

from ..errors import DspexError
from . import bedrock_wire as wire
from .base import StreamPart
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
            use = (data.get("start") or {}).get("toolUse")
            if not isinstance(use, dict):
                return None
            ordinal = self.tool_index.setdefault(index, len(self.tool_index))
            return StreamPart(
                delta=ChatDelta(
                    tool_calls=[
                        ToolCallDelta(
                            index=ordinal,
                            id=str(use.get("toolUseId")),
                            name=str(use.get("name")),
                        )
                    ]
                )
            )
        if event == "contentBlockDelta":
            delta = data.get("delta") or {}
            if isinstance(delta.get("text"), str):
                return StreamPart(delta=ChatDelta(content=delta["text"]))
            use = delta.get("toolUse")
            if isinstance(use, dict):
                ordinal = self.tool_index.setdefault(index, len(self.tool_index))
                return StreamPart(
                    delta=ChatDelta(
                        tool_calls=[
                            ToolCallDelta(index=ordinal, arguments=str(use.get("input", "")))
                        ]
                    )
                )
            return None  # reasoning content and other block kinds are not forwarded
        if event == "messageStop":
            self.stopped = True
            return StreamPart(
                finish_reason=wire.stop_reason(data.get("stopReason"), bool(self.tool_index))
            )
        if event == "metadata":
            self.finished = self.stopped
            return StreamPart(usage=wire.parse_usage(data.get("usage")))
        return None  # messageStart, contentBlockStop
