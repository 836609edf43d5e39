"""The Anthropic Messages API: POST {base}/v1/messages, SSE streaming, GET /v1/models.

Request building lives in `anthropic_request` (and `anthropic_content`), answer parsing
in `anthropic_parse`, stream parsing in `anthropic_stream`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from dspex_protocol import ErrorKind, Usage

from .anthropic_parse import STOP_REASONS, finish_reason, parse_content, parse_usage
from .anthropic_request import ANTHROPIC_VERSION, DEFAULT_MAX_TOKENS, AnthropicBody, build_body
from .anthropic_stream import StreamParser
from .base import ModelListing, ProviderRequest, ProviderResponse, StreamPart, assistant_message
from .http import HttpAdapter, request_id
from .settings import AnthropicSettings

__all__ = ["STOP_REASONS", "AnthropicAdapter", "parse_usage"]
MODELS_PAGE_LIMIT = 1000


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
    # No seed, n, logprobs, penalties, cachedContent or previousResponseId on this API.
    options: ClassVar[frozenset[str]] = frozenset(
        {
            "response_format",
            "reasoning",
            "server_tools",
            "parallel_tool_calls",
            "user",
            "metadata",
            "strict",
            "cache_control",
        }
    )
    input_parts: ClassVar[frozenset[str]] = frozenset(
        {"text", "image", "document", "reasoning", "server_tool"}
    )

    def headers(self, betas: list[str] | None = None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION, **self.base_headers()}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        if betas:
            configured = headers.get("anthropic-beta")
            headers["anthropic-beta"] = ",".join(([configured] if configured else []) + betas)
        return headers

    def body(self, request: ProviderRequest) -> AnthropicBody:
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
        built = self.body(request)
        payload, response = await self.post_json(
            "/v1/messages", built.body, request.model, self.headers(built.betas), request.timeout_s
        )
        return self.parse_message(payload, request.model, request_id(response.headers))

    def parse_message(self, payload: Any, model: str, req_id: str | None) -> ProviderResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("content"), list):
            raise self.invalid("the response has no content list", model)
        parts, calls = parse_content(payload["content"], lambda what: self.invalid(what, model))
        return ProviderResponse(
            message=assistant_message(parts, calls),
            finish_reason=finish_reason(payload.get("stop_reason"), bool(calls)),
            usage=parse_usage(payload.get("usage")) or Usage(),
            model=str(payload.get("model") or model),
            request_id=req_id or _str(payload.get("id")),
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        built = self.body(request)
        body = {**built.body, "stream": True}
        headers = {**self.headers(built.betas), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", "/v1/messages", body, request.model, headers, request.timeout_s
        ) as response:
            parser = StreamParser(self, request.model, request_id(response.headers))
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


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
