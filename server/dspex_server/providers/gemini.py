"""The Gemini API: :generateContent, :streamGenerateContent?alt=sse, :batchEmbedContents,
GET /v1beta/models. Request building lives in `gemini_request`."""

from __future__ import annotations

import json
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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

from .base import (
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
)
from .gemini_request import GENERATED_ID_PREFIX, build_body
from .http import HttpAdapter, request_id

API_VERSION = "v1beta"
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "OTHER": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
}
GENERATION_CAPABILITIES = {
    "generateContent": "chat",
    "streamGenerateContent": "streaming",
    "embedContent": "embeddings",
    "batchEmbedContents": "embeddings",
}
EMBED_BATCH_LIMIT = 100  # requests per :batchEmbedContents call
EMBED_TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
SIGNATURE_CACHE_SIZE = 4096
MODELS_PAGE_SIZE = 1000
_VERSIONED = re.compile(r"/v1(alpha|beta)?\d*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def parse_usage(raw: Any) -> Usage | None:
    """Thinking tokens are billed as output: completion = candidates + thoughts."""
    if not isinstance(raw, dict):
        return None
    prompt = int(raw.get("promptTokenCount") or 0)
    thoughts = raw.get("thoughtsTokenCount")
    completion = int(raw.get("candidatesTokenCount") or 0) + int(thoughts or 0)
    cached = raw.get("cachedContentTokenCount")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=int(raw.get("totalTokenCount") or prompt + completion),
        cached_tokens=int(cached) if cached is not None else None,
        reasoning_tokens=int(thoughts) if thoughts is not None else None,
    )


@dataclass
class _Candidate:
    """What one generateContent answer (or one stream chunk) holds of the first candidate."""

    text: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    finish: str | None = None
    blocked: bool = False


class GeminiAdapter(HttpAdapter):
    error_codes: ClassVar[dict[str, tuple[ErrorKind, bool]]] = {
        "RESOURCE_EXHAUSTED": (ErrorKind.RATE_LIMITED, True),
        "INVALID_ARGUMENT": (ErrorKind.INVALID_MESSAGES, False),
        "OUT_OF_RANGE": (ErrorKind.INVALID_MESSAGES, False),
        "FAILED_PRECONDITION": (ErrorKind.API_ERROR, False),
        "UNAUTHENTICATED": (ErrorKind.AUTHENTICATION, False),
        "PERMISSION_DENIED": (ErrorKind.AUTHENTICATION, False),
        "NOT_FOUND": (ErrorKind.API_ERROR, False),
        # Gemini answers a wrong key with 400 INVALID_ARGUMENT; the reason tells.
        "API_KEY_INVALID": (ErrorKind.AUTHENTICATION, False),
        "UNAVAILABLE": (ErrorKind.API_ERROR, True),
        "INTERNAL": (ErrorKind.API_ERROR, True),
        "DEADLINE_EXCEEDED": (ErrorKind.TIMEOUT, True),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not _VERSIONED.search(self.base_url):
            self.base_url = f"{self.base_url}/{API_VERSION}"
        # Call id → the thoughtSignature Gemini sent with it, to send it back (bounded).
        self.signatures: OrderedDict[str, str] = OrderedDict()

    def headers(self) -> dict[str, str]:
        headers = self.base_headers()
        if self.api_key:
            headers["x-goog-api-key"] = self.api_key
        return headers

    @staticmethod
    def resource(model: str) -> str:
        """`models/x` for a bare model name; `tunedModels/y` and `models/x` stay."""
        return model if "/" in model else f"models/{model}"

    def error_detail(self, payload: Any) -> tuple[str | None, str | None]:
        err = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(err, dict):
            return super().error_detail(payload)
        reasons = [d.get("reason") for d in _details(err, "ErrorInfo")]
        code = next((r for r in reasons if r in self.error_codes), None) or err.get("status")
        message = err.get("message")
        return (str(message) if message else None), (str(code) if code else None)

    def error_hints(self, payload: Any) -> tuple[int | None, str | None]:
        err = payload.get("error") if isinstance(payload, dict) else None
        for info in _details(err, "RetryInfo"):
            match = _DURATION.match(str(info.get("retryDelay") or ""))
            if match:
                return int(float(match[1]) * 1000), None
        return None, None

    def signature_of(self, call_id: str) -> str | None:
        return self.signatures.get(call_id)

    def remember_signature(self, call_id: str, signature: str) -> None:
        self.signatures[call_id] = signature
        self.signatures.move_to_end(call_id)
        while len(self.signatures) > SIGNATURE_CACHE_SIZE:
            self.signatures.popitem(last=False)

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        return build_body(request, self.name, self.signature_of)

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        path = f"/{self.resource(request.model)}:generateContent"
        payload, response = await self.post_json(
            path, self.body(request), request.model, self.headers(), request.timeout_s
        )
        cand = self.candidate(payload, request.model)
        calls = [ToolCall(id=i, name=n, arguments=a) for i, n, a in cand.calls]
        return ProviderResponse(
            message=AssistantMessage(content="".join(cand.text) or None, tool_calls=calls or None),
            finish_reason=self.finish_reason(cand, bool(calls)) or "stop",
            usage=parse_usage(payload.get("usageMetadata")) or Usage(),
            model=str(payload.get("modelVersion") or request.model),
            request_id=request_id(response.headers) or _str(payload.get("responseId")),
        )

    @staticmethod
    def finish_reason(cand: _Candidate, has_calls: bool) -> FinishReason | None:
        if cand.blocked:
            return "content_filter"
        if cand.finish is None:
            return None
        reason = FINISH_REASONS.get(cand.finish, "stop")
        return "tool_calls" if reason == "stop" and has_calls else reason

    def candidate(self, payload: Any, model: str) -> _Candidate:
        """The first candidate's text and calls (ids made up where Gemini sent none,
        signatures kept); a prompt blocked before any candidate is a content filter."""
        if not isinstance(payload, dict):
            raise self.invalid("the response is not an object", model)
        candidates = payload.get("candidates")
        if not candidates:
            feedback = payload.get("promptFeedback") or {}
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                return _Candidate(blocked=True, finish=str(feedback["blockReason"]))
            if "usageMetadata" in payload:  # a usage-only stream chunk
                return _Candidate()
            raise self.invalid("the response has no candidates", model)
        first = candidates[0]
        if not isinstance(first, dict):
            raise self.invalid("a candidate is not an object", model)
        out = _Candidate(finish=_str(first.get("finishReason")))
        content = first.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts or ():
            if not isinstance(part, dict) or part.get("thought"):
                continue  # thought summaries are not the answer
            if "text" in part:
                out.text.append(str(part["text"]))
            call = part.get("functionCall")
            if isinstance(call, dict):
                out.calls.append(self._call(call, part.get("thoughtSignature"), model))
        return out

    def _call(
        self, call: dict[str, Any], signature: Any, model: str
    ) -> tuple[str, str, dict[str, Any]]:
        args = call.get("args") if call.get("args") is not None else {}
        if not isinstance(args, dict):
            raise self.invalid("functionCall args is not an object", model)
        call_id = _str(call.get("id")) or f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex[:24]}"
        if isinstance(signature, str) and signature:
            self.remember_signature(call_id, signature)
        return call_id, str(call.get("name") or ""), args

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        path = f"/{self.resource(request.model)}:streamGenerateContent?alt=sse"
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", path, self.body(request), request.model, headers, request.timeout_s
        ) as response:
            req_id = request_id(response.headers)
            calls = 0
            finished = False
            idle_s = request.stream_idle_timeout_s
            async for chunk in self.sse_json(response, request.model, idle_s):
                if not isinstance(chunk, dict):  # Malformed, or JSON that is no object
                    yield StreamPart(malformed=1)  # skipped, counted: the rest still flows
                    continue
                if "error" in chunk:
                    raise self.payload_error(chunk, request.model, fallback="stream error")
                cand = self.candidate(chunk, request.model)
                deltas = [
                    # Gemini sends each call whole: one fragment holds all its arguments.
                    ToolCallDelta(index=calls + n, id=i, name=name, arguments=json.dumps(args))
                    for n, (i, name, args) in enumerate(cand.calls)
                ]
                calls += len(deltas)
                text = "".join(cand.text)
                finish = self.finish_reason(cand, calls > 0)
                finished = finished or finish is not None
                yield StreamPart(
                    delta=ChatDelta(content=text or None, tool_calls=deltas or None)
                    if text or deltas
                    else None,
                    finish_reason=finish,
                    usage=parse_usage(chunk.get("usageMetadata")),
                    model=_str(chunk.get("modelVersion")),
                    request_id=req_id or _str(chunk.get("responseId")),
                )
                req_id = None
            if not finished:
                raise self.stream_cut(request.model, "a finishReason")

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        resource = self.resource(request.model)
        vectors: list[list[float]] = []
        for start in range(0, len(request.inputs), EMBED_BATCH_LIMIT):
            batch = request.inputs[start : start + EMBED_BATCH_LIMIT]
            body = {"requests": [self._embed_request(resource, text, request) for text in batch]}
            payload, _ = await self.post_json(
                f"/{resource}:batchEmbedContents",
                body,
                request.model,
                self.headers(),
                request.timeout_s,
            )
            embeddings = payload.get("embeddings") if isinstance(payload, dict) else None
            if not isinstance(embeddings, list):
                raise self.invalid("the response has no embeddings list", request.model)
            for item in embeddings:
                values = item.get("values") if isinstance(item, dict) else None
                if not isinstance(values, list):
                    raise self.invalid("an embedding has no values", request.model)
                vectors.append([float(v) for v in values])
        return EmbedResponse(embeddings=vectors, model=request.model)

    @staticmethod
    def _embed_request(resource: str, text: str, request: EmbedRequest) -> dict[str, Any]:
        one: dict[str, Any] = {"model": resource, "content": {"parts": [{"text": text}]}}
        if request.input_type in EMBED_TASK_TYPES:
            one["taskType"] = EMBED_TASK_TYPES[request.input_type]
        if request.dimensions:
            one["outputDimensionality"] = request.dimensions
        return one

    async def list_models(self) -> list[ModelListing]:
        def following(page: dict[str, Any]) -> str | None:
            token = page.get("nextPageToken")
            return f"?pageSize={MODELS_PAGE_SIZE}&pageToken={token}" if token else None

        items = await self.get_pages(
            "/models", "models", self.headers(), f"?pageSize={MODELS_PAGE_SIZE}", following
        )
        return [self._listing(item) for item in items]

    @staticmethod
    def _listing(item: dict[str, Any]) -> ModelListing:
        methods = item.get("supportedGenerationMethods") or []
        return ModelListing(
            id=str(item.get("name", "")).removeprefix("models/"),
            owned_by="google",
            display_name=_str(item.get("displayName")),
            context_window=_int(item.get("inputTokenLimit")),
            max_output_tokens=_int(item.get("outputTokenLimit")),
            capabilities=frozenset(
                GENERATION_CAPABILITIES[m] for m in methods if m in GENERATION_CAPABILITIES
            ),
        )


def _details(err: Any, type_suffix: str) -> list[dict[str, Any]]:
    """google.rpc error details of one type (ErrorInfo, RetryInfo, …)."""
    details = err.get("details") if isinstance(err, dict) else None
    return [
        d
        for d in details or ()
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("." + type_suffix)
    ]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None
