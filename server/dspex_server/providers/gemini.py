"""The Gemini API: :generateContent, :streamGenerateContent?alt=sse, :batchEmbedContents,
GET /v1beta/models. Request building lives in `gemini_request`, answer reading (plain and
streamed alike) in `gemini_response`."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from dspex_protocol import ErrorKind

from .base import (
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamAccumulator,
    StreamPart,
)
from .gemini_request import build_body
from .gemini_response import AnswerReader
from .http import HttpAdapter, request_id

API_VERSION = "v1beta"
GENERATION_CAPABILITIES = {
    "generateContent": "chat",
    "streamGenerateContent": "streaming",
    "embedContent": "embeddings",
    "batchEmbedContents": "embeddings",
}
EMBED_BATCH_LIMIT = 100  # requests per :batchEmbedContents call
EMBED_TASK_TYPES = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}
# Call id → thought signature, for histories whose tool calls come back without theirs
# (a client that keeps only id, name and arguments); bounded.
SIGNATURE_CACHE_SIZE = 4096
MODELS_PAGE_SIZE = 1000
_VERSIONED = re.compile(r"/v1(alpha|beta)?\d*$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


class GeminiAdapter(HttpAdapter):
    # `cache_control` is taken only to be refused with a pointer to `cachedContent`
    # (Gemini has no inline cache breakpoints): see gemini_request.
    options: ClassVar[frozenset[str]] = frozenset(
        {
            "seed",
            "response_format",
            "reasoning",
            "server_tools",
            "n",
            "logprobs",
            "top_logprobs",
            "frequency_penalty",
            "presence_penalty",
            "cached_content",
            "strict",
            "cache_control",
        }
    )
    input_parts: ClassVar[frozenset[str]] = frozenset(
        {"text", "image", "document", "audio", "reasoning", "server_tool"}
    )
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
        # A fallback only: answers carry their signatures (ToolCall.signature, reasoning
        # parts), and a history sent back as received needs nothing from here.
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

    def reader(self, model: str) -> AnswerReader:
        return AnswerReader(lambda what: self.invalid(what, model), self.remember_signature)

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        path = f"/{self.resource(request.model)}:generateContent"
        payload, response = await self.post_json(
            path, self.body(request), request.model, self.headers(), request.timeout_s
        )
        # A whole answer reads as a stream of one chunk: the same parts either way.
        acc = StreamAccumulator(request.model)
        for part in self.reader(request.model).read(payload, last=True):
            acc.add(part)
        result = acc.response(self.name)
        result.request_id = request_id(response.headers) or result.response_id
        return result

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        path = f"/{self.resource(request.model)}:streamGenerateContent?alt=sse"
        headers = {**self.headers(), "Accept": "text/event-stream"}
        async with self.open_stream(
            "POST", path, self.body(request), request.model, headers, request.timeout_s
        ) as response:
            req_id = request_id(response.headers)
            reader = self.reader(request.model)
            idle_s = request.stream_idle_timeout_s
            async for chunk in self.sse_json(response, request.model, idle_s):
                if not isinstance(chunk, dict):  # Malformed, or JSON that is no object
                    yield StreamPart(malformed=1)  # skipped, counted: the rest still flows
                    continue
                if "error" in chunk:
                    raise self.payload_error(chunk, request.model, fallback="stream error")
                parts = reader.read(chunk)
                parts[0].request_id = req_id or _str(chunk.get("responseId"))
                req_id = None
                for part in parts:
                    yield part
            if not reader.finished:
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
