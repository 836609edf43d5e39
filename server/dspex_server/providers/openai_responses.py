"""OpenAI's Responses API: POST {base}/responses, plain and streamed (typed SSE events).

Request building lives in `openai_responses_request`, output items → parts in
`openai_responses_items`, the typed events in `openai_responses_stream`. The adapter serves
the `openai-responses` row, and the `openai` row's chats that go to the Responses API
(`providers.openai.api`, or the models the catalog marks responses-only).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from dspex_protocol import ErrorKind

from ..catalog.data import lookup
from .base import (
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamAccumulator,
    StreamPart,
)
from .http import HttpAdapter, malformed, request_id
from .openai_responses_items import (
    ERROR_CODES,
    OutputAssembler,
    finish_reason,
    parse_usage,
)
from .openai_responses_request import build_body
from .openai_responses_stream import ResponsesStreamParser
from .settings import ResponsesSettings

PATH = "/responses"


class OpenAIResponsesAdapter(HttpAdapter):
    """The Responses API. Not stored by default (`store: false`): the history is sent each
    time, with each reasoning item's encrypted content (asked for with `include`)."""

    options: ClassVar[frozenset[str]] = frozenset(
        {
            "response_format",
            "server_tools",
            "reasoning",
            "logprobs",
            "top_logprobs",
            "parallel_tool_calls",
            "user",
            "metadata",
            "previous_response_id",
            "strict",
            # OpenAI caches prompt prefixes by itself; breakpoints are accepted and the
            # cached tokens reported (docs/providers.md).
            "cache_control",
        }
    )
    input_parts: ClassVar[frozenset[str]] = frozenset(
        {"text", "image", "document", "reasoning", "server_tool", "refusal"}
    )
    error_codes: ClassVar[dict[str, tuple[ErrorKind, bool]]] = {
        **ERROR_CODES,
        "previous_response_not_found": (ErrorKind.INVALID_MESSAGES, False),
    }

    def headers(self) -> dict[str, str]:
        headers = self.base_headers()
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def classify(self, status: int | None, code: str | None) -> tuple[ErrorKind, bool]:
        if status in (401, 403):  # typed `invalid_request_error`, but the key is the matter
            return ErrorKind.AUTHENTICATION, False
        return super().classify(status, code)

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        settings = self.settings
        store = settings.store if isinstance(settings, ResponsesSettings) else False
        entry = lookup(self.name, request.model)
        reasons = request.reasoning is not None or (
            entry is not None and "reasoning" in entry.capabilities
        )
        return build_body(request, provider=self.name, store=store, reasons=reasons)

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        payload, response = await self.post_json(
            PATH, self.body(request), request.model, self.headers(), request.timeout_s
        )
        return self.parse_response(payload, request.model, request_id(response.headers))

    def parse_response(self, payload: Any, model: str, req_id: str | None) -> ProviderResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("output"), list):
            raise self.invalid("the response has no output list", model)
        if payload.get("status") == "failed":
            raise self.failed(payload, model)
        acc = StreamAccumulator(str(payload.get("model") or model))
        assembler = OutputAssembler()
        for index, item in enumerate(payload["output"]):
            if not isinstance(item, dict):
                raise self.invalid("an output item is not an object", model)
            for delta in assembler.whole_item(index, item):
                acc.add_delta(delta)
        acc.finish_reason = finish_reason(payload, assembler.has_calls)
        acc.usage = parse_usage(payload.get("usage"))
        response = acc.response(self.name)
        response.request_id = req_id
        response.response_id = _str(payload.get("id"))
        return response

    def failed(self, response: dict[str, Any], model: str) -> Exception:
        """A response whose status is `failed`: its error, mapped by code."""
        return self.payload_error(
            {"error": response.get("error") or {}},
            model,
            fallback="the response failed",
        )

    def stream_error(self, event: dict[str, Any], model: str) -> Exception:
        """An `error` event: the error fields at its top level, or under `error`."""
        nested = event.get("error")
        error = nested if isinstance(nested, dict) else event
        payload = {"error": {"message": error.get("message"), "code": error.get("code")}}
        return self.payload_error(payload, model, fallback="stream error")

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        body = {**self.body(request), "stream": True}
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", PATH, body, request.model, headers, request.timeout_s
        ) as response:
            parser = ResponsesStreamParser(self, request.model, request_id(response.headers))
            idle_s = request.stream_idle_timeout_s
            async for sse in self.sse_events(response, request.model, idle_s):
                data = sse.data.strip()
                if not data or data == "[DONE]":  # some servers end with Chat's marker
                    continue
                try:
                    event = json.loads(data)
                except json.JSONDecodeError:
                    event = malformed(data)
                for part in parser.feed(event):
                    yield part
                if parser.done:
                    return
            raise self.stream_cut(request.model, "response.completed")

    async def list_models(self) -> list[ModelListing]:
        payload = await self.get_json("/models", self.headers())
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise self.invalid("the models list has no data array", "")
        return [
            ModelListing(id=str(item["id"]), owned_by=_str(item.get("owned_by")))
            for item in data
            if isinstance(item, dict) and "id" in item
        ]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
