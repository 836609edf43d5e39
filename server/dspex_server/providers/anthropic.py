"""The Anthropic Messages API: POST {base}/v1/messages, SSE streaming, GET /v1/models.

Request building lives in `anthropic_request`; this module parses answers and streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from dspex_protocol import (
    AssistantMessage,
    ChatDelta,
    ErrorKind,
    FinishReason,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from .anthropic_request import ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, build_body
from .base import ModelListing, ProviderRequest, ProviderResponse, StreamPart
from .http import HttpAdapter, Malformed, request_id
from .settings import AnthropicSettings

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
MODELS_PAGE_LIMIT = 1000


def parse_usage(raw: Any) -> Usage | None:
    """`input_tokens` counts only the uncached part of the prompt; the prompt total adds
    the cache reads and writes (as Chat Completions counts it), reads are `cachedTokens`."""
    if not isinstance(raw, dict):
        return None
    uncached = int(raw.get("input_tokens") or 0)
    cache_read = int(raw.get("cache_read_input_tokens") or 0)
    cache_write = int(raw.get("cache_creation_input_tokens") or 0)
    prompt = uncached + cache_read + cache_write
    completion = int(raw.get("output_tokens") or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cached_tokens=cache_read if "cache_read_input_tokens" in raw else None,
    )


class AnthropicAdapter(HttpAdapter):
    error_codes: ClassVar[dict[str, tuple[ErrorKind, bool]]] = {
        "overloaded_error": (ErrorKind.API_ERROR, True),
        "api_error": (ErrorKind.API_ERROR, True),
        "rate_limit_error": (ErrorKind.RATE_LIMITED, True),
        "timeout_error": (ErrorKind.TIMEOUT, True),
        "invalid_request_error": (ErrorKind.INVALID_MESSAGES, False),
        "request_too_large": (ErrorKind.INVALID_MESSAGES, False),
        "authentication_error": (ErrorKind.AUTHENTICATION, False),
        "permission_error": (ErrorKind.AUTHENTICATION, False),
        "billing_error": (ErrorKind.API_ERROR, False),
        "not_found_error": (ErrorKind.API_ERROR, False),
    }

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, **self.base_headers()}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        settings = self.settings
        default = (
            settings.default_max_tokens
            if isinstance(settings, AnthropicSettings)
            else DEFAULT_MAX_TOKENS
        )
        return build_body(request, default)

    def error_hints(self, payload: Any) -> tuple[int | None, str | None]:
        # Error bodies carry the request id too: {"type": "error", "error": {...},
        # "request_id": "req_..."}.
        rid = payload.get("request_id") if isinstance(payload, dict) else None
        return None, rid if isinstance(rid, str) else None

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        payload, response = await self.post_json(
            "/v1/messages", self.body(request), request.model, self.headers(), request.timeout_s
        )
        return self.parse_message(payload, request.model, request_id(response.headers))

    def parse_message(self, payload: Any, model: str, req_id: str | None) -> ProviderResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("content"), list):
            raise self.invalid("the response has no content list", model)
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in payload["content"]:
            if not isinstance(block, dict):
                raise self.invalid("a content block is not an object", model)
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                arguments = block.get("input")
                if not isinstance(arguments, dict):
                    raise self.invalid("a tool_use input is not an object", model)
                calls.append(
                    ToolCall(
                        id=str(block.get("id")), name=str(block.get("name")), arguments=arguments
                    )
                )
        return ProviderResponse(
            message=AssistantMessage(content="".join(texts) or None, tool_calls=calls or None),
            finish_reason=STOP_REASONS.get(
                str(payload.get("stop_reason")), "tool_calls" if calls else "stop"
            ),
            usage=parse_usage(payload.get("usage")) or Usage(),
            model=str(payload.get("model") or model),
            request_id=req_id or _str(payload.get("id")),
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        body = {**self.body(request), "stream": True}
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", "/v1/messages", body, request.model, headers, request.timeout_s
        ) as response:
            parser = _StreamParser(self, request.model, request_id(response.headers))
            idle_s = request.stream_idle_timeout_s
            async for event in self.sse_json(response, request.model, idle_s):
                part = parser.feed(event)
                if part is not None:
                    yield part
                if parser.stopped:
                    return
            # No message_stop, but message_delta brought the stop reason and the usage:
            # the answer is complete.
            if not parser.finished:
                raise self.stream_cut(request.model, "message_stop")

    async def list_models(self) -> list[ModelListing]:
        def after(page: dict[str, Any]) -> str | None:
            last = page.get("last_id")
            return (
                f"?limit={MODELS_PAGE_LIMIT}&after_id={last}"
                if page.get("has_more") and last
                else None
            )

        items = await self.get_pages(
            "/v1/models", "data", self.headers(), f"?limit={MODELS_PAGE_LIMIT}", after
        )
        return [
            ModelListing(
                id=str(item["id"]),
                owned_by="anthropic",
                display_name=_str(item.get("display_name")),
            )
            for item in items
            if "id" in item
        ]


class _StreamParser:
    """Turns the Messages API's stream events into stream parts.

    Content blocks are numbered across text and tool_use blocks; tool calls are
    renumbered 0, 1, … so that clients see the same indexes as on Chat Completions.
    Usage arrives in two halves (message_start: input, message_delta: cumulative output)
    and is sent whole each time.
    """

    def __init__(self, adapter: AnthropicAdapter, model: str, req_id: str | None) -> None:
        self.adapter = adapter
        self.model = model
        self.request_id = req_id
        self.usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}
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
        if kind == "message_delta":
            delta = event.get("delta") or {}
            self._add_usage(event.get("usage"))
            reason = delta.get("stop_reason")
            self.finished = self.finished or bool(reason)
            return StreamPart(
                finish_reason=STOP_REASONS.get(str(reason), "stop") if reason else None,
                usage=parse_usage(self.usage),
            )
        if kind == "message_stop":
            self.stopped = True
        # ping, content_block_stop and event types added later carry nothing to forward.
        return None

    def _add_usage(self, raw: Any) -> None:
        if isinstance(raw, dict):
            self.usage.update({k: v for k, v in raw.items() if v is not None})

    def _start(self, message: dict[str, Any]) -> StreamPart:
        self._add_usage(message.get("usage"))
        return StreamPart(
            model=_str(message.get("model")),
            usage=parse_usage(self.usage),
            request_id=self.request_id or _str(message.get("id")),
        )

    def _block_start(self, event: dict[str, Any]) -> StreamPart | None:
        block = event.get("content_block") or {}
        if block.get("type") == "text" and block.get("text"):
            return StreamPart(delta=ChatDelta(content=str(block["text"])))
        if block.get("type") != "tool_use":
            return None
        index = self.tool_index.setdefault(int(event.get("index", 0)), len(self.tool_index))
        call = ToolCallDelta(index=index, id=_str(block.get("id")), name=_str(block.get("name")))
        return StreamPart(delta=ChatDelta(tool_calls=[call]))

    def _block_delta(self, event: dict[str, Any]) -> StreamPart | None:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            return StreamPart(delta=ChatDelta(content=str(delta["text"])))
        if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
            index = self.tool_index.get(int(event.get("index", 0)))
            if index is None:
                raise self.adapter.invalid(
                    "input_json_delta for a block that is no tool_use", self.model
                )
            frag = ToolCallDelta(index=index, arguments=str(delta["partial_json"]))
            return StreamPart(delta=ChatDelta(tool_calls=[frag]))
        # thinking_delta, signature_delta, citations_delta: not part of the answer.
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
