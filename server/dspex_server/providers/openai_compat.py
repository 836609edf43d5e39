"""The Chat Completions wire format (OpenAI and every OpenAI-compatible server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dspex_protocol import ErrorKind, Usage

from ..errors import DspexError
from .base import (
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
)
from .compat_dialects import Refused, dialect_for, refused
from .http import HttpAdapter, request_id
from .openai_compat_parse import FINISH_REASONS, StreamReader, parse_choice, parse_usage
from .openai_compat_request import build_body, message_to_wire
from .settings import ProviderSettings
from .table import ProviderSpec

__all__ = ["FINISH_REASONS", "OpenAICompatAdapter", "build_body", "message_to_wire", "parse_usage"]

# Error codes in the body that say the request itself was wrong (not retryable).
INVALID_MESSAGE_CODES = frozenset(
    {"context_length_exceeded", "invalid_request_error", "string_above_max_length"}
)


class OpenAICompatAdapter(HttpAdapter):
    """POST {base}/chat/completions; SSE streaming with `stream_options.include_usage`.
    What each row maps beyond the common format is its `Dialect` (compat_dialects)."""

    # Documents and audio are refused per row where the row takes none (its dialect);
    # reasoning goes back where the API takes it, refusals as OpenAI's `refusal`.
    input_parts = frozenset({"text", "image", "document", "audio", "reasoning", "refusal"})

    def __init__(
        self, spec: ProviderSpec, settings: ProviderSettings, api_key: str | None, transport: str
    ) -> None:
        super().__init__(spec, settings, api_key, transport)
        self.dialect = dialect_for(spec.name)

    def mapped_options(self, model: str) -> frozenset[str]:
        return self.dialect.mapped(model)

    def headers(self) -> dict[str, str]:
        headers = self.base_headers()
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def refine_kind(self, kind: ErrorKind, status: int, code: str | None) -> ErrorKind:
        if status in (401, 403):  # typed `invalid_request_error`, but the key is the matter
            return ErrorKind.AUTHENTICATION
        if code in INVALID_MESSAGE_CODES and status < 500:
            return ErrorKind.INVALID_MESSAGES
        if code in ("rate_limit_exceeded", "insufficient_quota") and status == 429:
            return ErrorKind.RATE_LIMITED
        return kind

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        # OpenAI deprecated max_tokens for max_completion_tokens (required by o-series models);
        # compatible servers still expect max_tokens (the dialect says which).
        try:
            return build_body(request, self.dialect, self.name)
        except Refused as exc:
            raise refused(self.name, request.model, exc) from None

    def _invalid(self, what: str, model: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_RESPONSE, what, provider=self.name, model=model)

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        payload, response = await self.post_json(
            "/chat/completions",
            self.body(request),
            request.model,
            self.headers(),
            request.timeout_s,
        )
        return self.parse_response(payload, request.model, request_id(response.headers))

    def parse_response(self, payload: Any, model: str, req_id: str | None) -> ProviderResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
            raise self._invalid("the response has no choices", model)
        raw = [c for c in payload["choices"] if isinstance(c, dict)]
        if not raw:
            raise self._invalid("the response has an empty choices list", model)
        raw.sort(key=lambda c: c["index"] if isinstance(c.get("index"), int) else 0)
        choices = [parse_choice(c, self.name, model) for c in raw]
        first = choices[0]
        if first is None:
            raise self._invalid("the first choice has no message", model)
        return ProviderResponse(
            message=first.message,
            finish_reason=first.finish_reason,
            usage=parse_usage(payload.get("usage")) or Usage(),
            model=str(payload.get("model") or model),
            request_id=req_id or _str(payload.get("id")),
            logprobs=first.logprobs,
            more_choices=[c for c in choices[1:] if c is not None],
        )

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """POST {base}/embeddings; vectors come back in `data`, each with its `index`."""
        body: dict[str, Any] = {
            "model": request.model,
            "input": request.inputs,
            "encoding_format": "float",
        }
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        payload, _ = await self.post_json(
            "/embeddings", body, request.model, self.headers(), request.timeout_s
        )
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not all(
            isinstance(d, dict) and isinstance(d.get("embedding"), list) for d in data
        ):
            raise self._invalid("the embeddings response has no data array", request.model)
        ordered = sorted(data, key=lambda d: int(d.get("index", 0)))
        usage = payload.get("usage") or {}
        return EmbedResponse(
            embeddings=[[float(x) for x in d["embedding"]] for d in ordered],
            model=str(payload.get("model") or request.model),
            prompt_tokens=int(usage.get("prompt_tokens") or 0) if isinstance(usage, dict) else 0,
        )

    async def list_models(self) -> list[ModelListing]:
        payload = await self.get_json("/models", self.headers())
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise self._invalid("the models list has no data array", "")
        return [
            ModelListing(id=str(item["id"]), owned_by=_str(item.get("owned_by")))
            for item in data
            if isinstance(item, dict) and "id" in item
        ]

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        body = self.body(request)
        body["stream"] = True
        if self.dialect.stream_usage_option:
            body["stream_options"] = {"include_usage": True}
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", "/chat/completions", body, request.model, headers, request.timeout_s
        ) as response:
            req_id = request_id(response.headers)
            reader = StreamReader()
            done = finished = False
            idle_s = request.stream_idle_timeout_s
            async for sse in self.sse_events(response, request.model, idle_s):
                if sse.data.strip() == "[DONE]":
                    done = True
                    break
                if not sse.data.strip():
                    continue
                try:
                    chunk = json.loads(sse.data)
                except json.JSONDecodeError:
                    chunk = None
                if not isinstance(chunk, dict):
                    yield StreamPart(malformed=1)  # skipped, counted: the rest still flows
                    continue
                if "error" in chunk:
                    message, code = self.error_detail(chunk)
                    raise DspexError(
                        ErrorKind.API_ERROR,
                        self.scrub(message or "stream error"),
                        provider=self.name,
                        model=request.model,
                        details={"code": code} if code else None,
                    )
                for part in reader.read(chunk, req_id):
                    finished = finished or part.finish_reason is not None
                    yield part
                req_id = None
            # No [DONE], but the finish reason came (and the usage chunk after it, where
            # asked for): the answer is complete; without a finish reason it was cut.
            if not done and not finished:
                raise self.stream_cut(request.model, "[DONE]")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
