"""The Chat Completions wire format (OpenAI and every OpenAI-compatible server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from dspex_protocol import (
    AssistantMessage,
    ChatDelta,
    ErrorKind,
    FinishReason,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from ..errors import DspexError
from .base import (
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
    parse_tool_arguments,
)
from .http import HttpAdapter, request_id

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# Error codes in the body that say the request itself was wrong (not retryable).
INVALID_MESSAGE_CODES = frozenset(
    {"context_length_exceeded", "invalid_request_error", "string_above_max_length"}
)


def _content(message: Message) -> str | list[dict[str, Any]] | None:
    if message.content is None or isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            url = part.url or f"data:{part.mime_type};base64,{part.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def message_to_wire(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def build_body(request: ProviderRequest, *, max_tokens_field: str = "max_tokens") -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [message_to_wire(m) for m in request.messages],
    }
    optional = {
        "temperature": request.temperature,
        max_tokens_field: request.max_tokens,
        "top_p": request.top_p,
        "stop": request.stop,
        "seed": request.seed,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        body["tool_choice"] = choice
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema":
        schema: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.json_schema or {}}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    return body


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("prompt_tokens") or 0)
    completion = int(raw.get("completion_tokens") or 0)
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(raw.get("total_tokens") or prompt + completion),
        cached_tokens=prompt_details.get("cached_tokens")
        if isinstance(prompt_details, dict)
        else None,
        reasoning_tokens=completion_details.get("reasoning_tokens")
        if isinstance(completion_details, dict)
        else None,
    )


class OpenAICompatAdapter(HttpAdapter):
    """POST {base}/chat/completions; SSE streaming with `stream_options.include_usage`."""

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
        # compatible servers still expect max_tokens.
        field = "max_completion_tokens" if self.name == "openai" else "max_tokens"
        return build_body(request, max_tokens_field=field)

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
        if not payload["choices"]:
            raise self._invalid("the response has an empty choices list", model)
        choice = payload["choices"][0]
        raw = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(raw, dict):
            raise self._invalid("the first choice has no message", model)
        calls = [
            ToolCall(
                id=str(c.get("id") or f"call_{i}"),
                name=str(c.get("function", {}).get("name", "")),
                arguments=parse_tool_arguments(
                    c.get("function", {}).get("arguments") or "", self.name, model
                ),
            )
            for i, c in enumerate(raw.get("tool_calls") or [])
            if isinstance(c, dict)
        ]
        content = raw.get("content")
        return ProviderResponse(
            message=AssistantMessage(
                content=content if isinstance(content, str) else None, tool_calls=calls or None
            ),
            finish_reason=FINISH_REASONS.get(
                str(choice.get("finish_reason")), "tool_calls" if calls else "stop"
            ),
            usage=parse_usage(payload.get("usage")) or Usage(),
            model=str(payload.get("model") or model),
            request_id=req_id or _str(payload.get("id")),
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
        body["stream_options"] = {"include_usage": True}
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", "/chat/completions", body, request.model, headers, request.timeout_s
        ) as response:
            req_id = request_id(response.headers)
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
                part = self.parse_chunk(chunk, request.model, req_id)
                finished = finished or part.finish_reason is not None
                yield part
                req_id = None
            # No [DONE], but the finish reason came (and the usage chunk after it, where
            # asked for): the answer is complete; without a finish reason it was cut.
            if not done and not finished:
                raise self.stream_cut(request.model, "[DONE]")

    def parse_chunk(self, chunk: Any, model: str, req_id: str | None) -> StreamPart:
        if not isinstance(chunk, dict):
            raise self._invalid("a stream chunk is not an object", model)
        part = StreamPart(
            model=_str(chunk.get("model")), usage=parse_usage(chunk.get("usage")), request_id=req_id
        )
        choices = chunk.get("choices") or []
        if not choices:
            return part
        choice = choices[0]
        delta = choice.get("delta") or {}
        tool_deltas = [
            ToolCallDelta(
                index=int(t.get("index", i)),
                id=_str(t.get("id")),
                name=_str((t.get("function") or {}).get("name")),
                arguments=(t.get("function") or {}).get("arguments"),
            )
            for i, t in enumerate(delta.get("tool_calls") or [])
        ]
        content = delta.get("content")
        if content or tool_deltas:
            part.delta = ChatDelta(content=content or None, tool_calls=tool_deltas or None)
        reason = choice.get("finish_reason")
        if reason:
            part.finish_reason = FINISH_REASONS.get(str(reason), "stop")
        return part


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
