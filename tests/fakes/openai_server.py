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
from .embeddings import fake_vector


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
    model_ids = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")

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
        return {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in reply.tool_calls
            ]
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        return {
            "id": "chatcmpl-fake123",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"] + "-2024-07-18",
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": self._usage(reply),
        }

    def _chunk(
        self,
        body: dict[str, Any],
        delta: dict[str, Any],
        finish: str | None = None,
        usage: dict[str, Any] | None = None,
        choices: bool = True,
    ) -> bytes:
        chunk: dict[str, Any] = {
            "id": "chatcmpl-fake123",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"] + "-2024-07-18",
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            if choices
            else [],
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
        for piece in split_text(reply.text or ""):
            await response.write(self._chunk(body, {"content": piece}))
        for index, call in enumerate(reply.tool_calls):
            args = json.dumps(call["arguments"])
            half = len(args) // 2
            await response.write(
                self._chunk(
                    body,
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": ""},
                            }
                        ]
                    },
                )
            )
            for frag in (args[:half], args[half:]):
                await response.write(
                    self._chunk(
                        body, {"tool_calls": [{"index": index, "function": {"arguments": frag}}]}
                    )
                )
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        await response.write(self._chunk(body, {}, finish))
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
