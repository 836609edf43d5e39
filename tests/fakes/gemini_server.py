"""A fake Gemini API (v1beta): generateContent, streamGenerateContent (SSE with
`alt=sse`, a JSON array without), batchEmbedContents, models list, google.rpc errors.
Requests are checked as the API checks them (gemini_checks); answers are rendered by
gemini_render."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from .base import (
    FakeProvider,
    HttpError,
    Reply,
    StreamErrorEvent,
    StreamWire,
    TruncatedStream,
    split_text,
    sse_event,
)
from .gemini_checks import gemini_error, request_error
from .gemini_render import (
    FAKE_SIGNATURE,
    Options,
    Rendered,
    candidate,
    candidate_reply,
    chunked,
    render,
)

__all__ = ["FAKE_SIGNATURE", "FakeGemini", "fake_vector", "gemini_error", "invalid_key_error"]


def invalid_key_error() -> HttpError:
    return gemini_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


def fake_vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dimensions)]


class FakeGemini(FakeProvider):
    models_listed = (
        ("gemini-2.5-flash", "Gemini 2.5 Flash", ["generateContent", "countTokens"]),
        ("gemini-2.5-pro", "Gemini 2.5 Pro", ["generateContent", "countTokens"]),
        ("gemini-embedding-001", "Gemini Embedding 001", ["embedContent", "countTokens"]),
    )
    embed_dimensions = 8

    def __init__(self, api_key: str | None = "AIzaFakeGeminiKey0123456789") -> None:
        super().__init__(api_key)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1beta/models/{target}", self.dispatch),
            web.get("/v1beta/models", self.models),
        ]

    def refusal(self, request: web.Request) -> HttpError | None:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return invalid_key_error()
        return None

    async def models(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self.refusal(request)
        if refused is not None:
            return self.error_response(refused)
        size = int(request.query.get("pageSize", "50"))
        start = int(request.query.get("pageToken") or 0)
        page = self.models_listed[start : start + size]
        body: dict[str, Any] = {
            "models": [
                {
                    "name": f"models/{m}",
                    "version": "001",
                    "displayName": name,
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": methods,
                }
                for m, name, methods in page
            ]
        }
        if start + size < len(self.models_listed):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        model, _, verb = request.match_info["target"].partition(":")
        body = await self.record(request)
        refused = self.refusal(request)
        if refused is not None:
            return self.error_response(refused)
        if verb == "batchEmbedContents":
            return self.embed(model, body)
        if verb not in ("generateContent", "streamGenerateContent"):
            return self.error_response(gemini_error(404, "NOT_FOUND", f"unknown method {verb}"))
        invalid = request_error(model, body)
        if invalid is not None:
            return self.error_response(invalid)
        behaviour = self.next_behaviour(Reply(text=self._echo(body)))
        canned = self.canned(behaviour)
        if canned is not None:
            return canned
        if isinstance(behaviour, TruncatedStream | StreamErrorEvent):
            return await self.broken_stream(request, model, behaviour)
        streaming = verb == "streamGenerateContent" and request.query.get("alt") == "sse"
        fault = await self.play_fault(request, behaviour, streaming, self.wire(model))
        if fault is not None:
            return fault
        behaviour = self.as_reply(behaviour)
        await self.sleep(behaviour.delay_s)
        options = Options.of(body)
        if verb == "generateContent":
            return web.json_response(self.response(model, behaviour, options))
        chunks = self.chunks(model, behaviour, options)
        if request.query.get("alt") != "sse":
            # Without alt=sse the API answers one JSON array of all chunks.
            return web.json_response(chunks)
        response = await self.open_sse(request)
        for chunk in chunks:
            await response.write(sse_event(chunk))
        await response.write_eof()
        return response

    @staticmethod
    def _echo(body: dict[str, Any]) -> str:
        for content in reversed(body.get("contents") or []):
            texts = [p["text"] for p in content.get("parts", []) if "text" in p]
            if content.get("role") == "user" and texts:
                return "".join(texts)
        return "ok"

    @staticmethod
    def _usage(reply: Reply, candidates: int | None = None) -> dict[str, Any]:
        out = reply.completion_tokens if candidates is None else candidates
        thoughts = 5 if reply.reasoning_tokens is None else reply.reasoning_tokens
        return {
            "promptTokenCount": reply.prompt_tokens,
            "candidatesTokenCount": out,
            "totalTokenCount": reply.prompt_tokens + out + thoughts,
            "cachedContentTokenCount": 2 if reply.cached_tokens is None else reply.cached_tokens,
            "thoughtsTokenCount": thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.prompt_tokens}],
        }

    @staticmethod
    def _chunk(
        model: str,
        parts: list[dict[str, Any]],
        usage: dict[str, Any],
        finish: str | None = None,
    ) -> dict[str, Any]:
        return FakeGemini._payload(
            model, [candidate(Rendered(parts=parts), 0, finish, Options())], usage
        )

    @staticmethod
    def _payload(
        model: str, candidates: list[dict[str, Any]], usage: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": model,
            "responseId": "fakeGeminiResponseId",
        }

    def response(self, model: str, reply: Reply, options: Options) -> dict[str, Any]:
        finish = reply.finish_reason or "STOP"
        candidates = [
            candidate(render(candidate_reply(reply, i)), i, finish, options)
            for i in range(options.candidates)
        ]
        return self._payload(model, candidates, self._usage(reply))

    def chunks(self, model: str, reply: Reply, options: Options) -> list[dict[str, Any]]:
        """Each candidate in chunks (several candidates: their chunks side by side); the
        last chunk of each carries its finish reason, the last chunk the final usage."""
        finish = reply.finish_reason or "STOP"
        per_candidate = [
            chunked(render(candidate_reply(reply, i))) for i in range(options.candidates)
        ]
        total = max(len(c) for c in per_candidate)
        payloads = []
        for step in range(total):
            entries = [
                candidate(chunks[step], i, finish if step == len(chunks) - 1 else None, options)
                for i, chunks in enumerate(per_candidate)
                if step < len(chunks)
            ]
            usage = self._usage(reply) if step == total - 1 else self._usage(reply, step + 1)
            payloads.append(self._payload(model, entries, usage))
        return payloads

    def wire(self, model: str) -> StreamWire:
        """Gemini's stream has no terminal event: the last chunk carries the finishReason
        and the final usage, then the body ends."""
        return StreamWire(
            content_type="text/event-stream",
            opener=[],
            delta=lambda text: sse_event(
                self._chunk(model, [{"text": text}], self._usage(Reply(), candidates=1))
            ),
            finish=lambda reply: [
                sse_event(self._chunk(model, [], self._usage(reply), reply.finish_reason or "STOP"))
            ],
            end=[],
            malformed=b'data: {"candidates": [{"content": {"parts": [{"text": \n\n',
        )

    def embed(self, model: str, body: Any) -> web.Response:
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            return self.error_response(
                gemini_error(
                    400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: required"
                )
            )
        embeddings = []
        for one in requests:
            if one.get("model") != f"models/{model}":
                return self.error_response(
                    gemini_error(
                        400,
                        "INVALID_ARGUMENT",
                        f"Model name in request {one.get('model')} does not match models/{model}",
                    )
                )
            text = "".join(p.get("text", "") for p in one["content"]["parts"])
            dims = int(one.get("outputDimensionality") or self.embed_dimensions)
            embeddings.append({"values": fake_vector(text, dims)})
        return web.json_response({"embeddings": embeddings})

    async def broken_stream(
        self, request: web.Request, model: str, behaviour: TruncatedStream | StreamErrorEvent
    ) -> web.StreamResponse:
        head = [
            sse_event(self._chunk(model, [{"text": piece}], self._usage(Reply())))
            for piece in split_text(behaviour.text, 6)[: behaviour.chunks]
        ]
        return await self.broken_sse(request, behaviour, head, sse_event)
