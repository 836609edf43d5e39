"""A fake Chat Completions server (OpenAI's documented request, response, SSE and errors)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from .base import (
    FakeProvider,
    Garbage,
    HttpError,
    Reply,
    SlowStream,
    StreamWire,
    TruncatedStream,
    split_text,
)
from .chat_completions import (
    ReasoningField,
    message,
    request_problem,
    stream_deltas,
    token_logprobs,
    tool_call_deltas,
    usage,
)
from .embeddings import fake_vector

# Content part types a Chat Completions server takes in requests.
PART_TYPES = frozenset({"text", "image_url", "input_audio", "file", "document_url", "thinking"})


def openai_error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpError:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return HttpError(status, body, headers or {})


class FakeOpenAI(FakeProvider):
    """`reasoning_field` picks the dialect reasoning is rendered in; `known_fields` makes
    it refuse any other request field (Mistral's 422); `unsupported` lists fields it
    answers 400 (Groq: logprobs, n > 1); `usage_in_stream` sends the usage in the last
    chunk unasked (Mistral)."""

    model_ids = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")

    def __init__(
        self,
        api_key: str | None = "sk-test-fake-key",
        *,
        reasoning_field: ReasoningField = "reasoning_content",
        known_fields: frozenset[str] | None = None,
        unsupported: frozenset[str] = frozenset(),
        usage_in_stream: bool = False,
    ) -> None:
        super().__init__(api_key)
        self.reasoning_field: ReasoningField = reasoning_field
        self.known_fields = known_fields
        self.unsupported = unsupported
        self.usage_in_stream = usage_in_stream

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/chat/completions", self.chat),
            web.get("/v1/models", self.models),
            web.post("/v1/embeddings", self.embeddings),
        ]

    @property
    def api_base(self) -> str:
        return self.base_url + "/v1"

    def _authorised(self, request: web.Request) -> bool:
        return (
            self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"
        )

    async def models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self.error_response(self.unauthorised())
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"}
            for m in self.model_ids
        ]
        return web.json_response({"object": "list", "data": data})

    async def embeddings(self, request: web.Request) -> web.Response:
        """POST /v1/embeddings: deterministic vectors, returned in reverse order (each with
        its `index`) so that a client that ignores `index` gets them wrong."""
        body = await self.record(request)
        if not self._authorised(request):
            return self.error_response(self.unauthorised())
        canned = self.canned(self.next_behaviour(Reply()))
        if canned is not None:
            return canned
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 16)
        data = [
            {"object": "embedding", "index": i, "embedding": fake_vector(text, dims)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(t.split()) for t in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data[::-1],
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    def unauthorised(self) -> HttpError:
        return openai_error(
            401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        if not self._authorised(request):
            return self.error_response(self.unauthorised())
        last_user = next((m for m in reversed(body["messages"]) if m["role"] == "user"), None)
        echo = last_user["content"] if last_user and isinstance(last_user["content"], str) else "ok"
        behaviour = self.next_behaviour(Reply(text=echo))
        problem = request_problem(body, self.known_fields, self.unsupported) or _bad_part(body)
        if problem is not None:
            return web.json_response(problem[1], status=problem[0])
        if isinstance(behaviour, HttpError):
            return self.error_response(behaviour)
        if isinstance(behaviour, Garbage):
            return self.garbage_response(behaviour)
        if isinstance(behaviour, TruncatedStream):
            return await self.truncated(request, body, behaviour)
        fault = await self.play_fault(request, behaviour, bool(body.get("stream")), self.wire(body))
        if fault is not None:
            return fault
        if isinstance(behaviour, SlowStream):
            return await self.slow_stream(request, body, behaviour)
        behaviour = self.as_reply(behaviour)
        await self.sleep(behaviour.delay_s)
        if body.get("stream"):
            return await self.stream(request, body, behaviour)
        return web.json_response(
            self.completion(body, behaviour), headers={"x-request-id": "req_fake_123"}
        )

    @staticmethod
    def _usage(reply: Reply) -> dict[str, Any]:
        return usage(reply)

    def _choices(self, body: dict[str, Any]) -> int:
        return int(body.get("n") or 1)

    def _logprobs(self, body: dict[str, Any], text: str | None) -> dict[str, Any] | None:
        if not body.get("logprobs") or not text:
            return None
        return {"content": token_logprobs(text, int(body.get("top_logprobs") or 0))}

    def completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        choices = []
        for index in range(self._choices(body)):
            suffix = f" #{index}" if index else ""
            msg = message(reply, self.reasoning_field, suffix)
            text = msg["content"] if isinstance(msg["content"], str) else None
            choices.append(
                {
                    "index": index,
                    "message": msg,
                    "logprobs": self._logprobs(body, text),
                    "finish_reason": finish,
                }
            )
        return {
            "id": "chatcmpl-fake123",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"] + "-2024-07-18",
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": self._usage(reply),
        }

    def _chunk(
        self,
        body: dict[str, Any],
        delta: dict[str, Any],
        finish: str | None = None,
        usage: dict[str, Any] | None = None,
        choices: bool = True,
        index: int = 0,
        logprobs: dict[str, Any] | None = None,
    ) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        chunk: dict[str, Any] = {
            "id": "chatcmpl-fake123",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"] + "-2024-07-18",
            "system_fingerprint": "fp_fake",
            "choices": [choice] if choices else [],
        }
        if usage is not None or body.get("stream_options", {}).get("include_usage"):
            chunk["usage"] = usage
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def wire(self, body: dict[str, Any]) -> StreamWire:
        def finish(reply: Reply) -> list[bytes]:
            events = [self._chunk(body, {}, reply.finish_reason or "stop")]
            if body.get("stream_options", {}).get("include_usage"):
                events.append(self._chunk(body, {}, usage=self._usage(reply), choices=False))
            return events

        return StreamWire(
            content_type="text/event-stream",
            opener=[self._chunk(body, {"role": "assistant", "content": ""})],
            delta=lambda text: self._chunk(body, {"content": text}),
            finish=finish,
            end=[b"data: [DONE]\n\n"],
            malformed=b'data: {"id": "chatcmpl-fake123", "choices": [{"delta": {"content": \n\n',
        )

    async def _open(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "x-request-id": "req_fake_stream"}
        )
        await response.prepare(request)
        return response

    async def stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = await self._open(request)
        await response.write(self._chunk(body, {"role": "assistant", "content": ""}))
        n = self._choices(body)
        # With n > 1 the choices' deltas interleave, each chunk naming its choice.
        per_choice = [
            stream_deltas(reply, self.reasoning_field, f" #{i}" if i else "") for i in range(n)
        ]
        for step in range(max(len(d) for d in per_choice)):
            for index, deltas in enumerate(per_choice):
                if step < len(deltas):
                    delta, text = deltas[step]
                    logprobs = self._logprobs(body, text)
                    await response.write(self._chunk(body, delta, index=index, logprobs=logprobs))
        for delta in tool_call_deltas(reply):
            await response.write(self._chunk(body, delta))
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        for index in range(n):
            last = self.usage_in_stream and index == n - 1
            usage_now = self._usage(reply) if last else None
            await response.write(self._chunk(body, {}, finish, usage=usage_now, index=index))
        if body.get("stream_options", {}).get("include_usage"):
            await response.write(self._chunk(body, {}, usage=self._usage(reply), choices=False))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def truncated(
        self, request: web.Request, body: dict[str, Any], t: TruncatedStream
    ) -> web.StreamResponse:
        response = await self._open(request)
        for piece in split_text(t.text, 6)[: t.chunks]:
            await response.write(self._chunk(body, {"content": piece}))
        transport = request.transport
        if transport is not None:
            transport.close()  # drop the connection mid-stream
        return response

    async def slow_stream(
        self, request: web.Request, body: dict[str, Any], slow: SlowStream
    ) -> web.StreamResponse:
        response = await self._open(request)
        chunks = [self._chunk(body, {"content": slow.piece}) for _ in range(slow.chunks)]
        await self.write_slowly(response, chunks, slow.interval_s)
        await response.write(self._chunk(body, {}, "stop"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _bad_part(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """A content part the format does not define, or an input_audio/file part without
    what the API reference requires."""
    for sent in body.get("messages") or []:
        content = sent.get("content")
        for part in content if isinstance(content, list) else []:
            kind = part.get("type")
            problem = None
            if kind not in PART_TYPES:
                problem = f"unknown content part type {kind!r}"
            elif kind == "input_audio" and part["input_audio"].get("format") not in ("wav", "mp3"):
                problem = "input_audio.format must be wav or mp3"
            elif kind == "file" and not (
                part["file"].get("file_id") or part["file"].get("file_data")
            ):
                problem = "file needs file_data or file_id"
            if problem is not None:
                error = {"message": problem, "type": "invalid_request_error"}
                return 400, {"error": error}
    return None
