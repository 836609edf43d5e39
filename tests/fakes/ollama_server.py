"""A fake Ollama server: native /api/chat (NDJSON streaming), /api/embed, /api/tags and the
documented `{"error": "..."}` bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .base import (
    FakeProvider,
    HttpError,
    Refusal,
    Reply,
    ServerTool,
    StreamWire,
    Thinking,
    TruncatedStream,
    split_text,
)
from .chat_completions import blocks_of, token_logprobs
from .embeddings import fake_vector

THINK_LEVELS = ("low", "medium", "high")


@dataclass
class StreamFailure:
    """Stream `text`, then an in-band `{"error": message}` line."""

    text: str = "partial"
    message: str = "an error was encountered while running the model"


def ollama_error(status: int, message: str) -> HttpError:
    return HttpError(status, {"error": message})


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeOllama(FakeProvider):
    models = ("llama3.2:latest", "nomic-embed-text:latest")

    def __init__(self) -> None:
        super().__init__(api_key=None)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/chat", self.chat),
            web.post("/api/embed", self.embed),
            web.get("/api/tags", self.tags),
        ]

    async def tags(self, request: web.Request) -> web.Response:
        self.requests.append(_recorded(request, None))
        return web.json_response(
            {
                "models": [
                    {
                        "name": name,
                        "model": name,
                        "modified_at": "2025-05-01T10:00:00.000000Z",
                        "size": 2019393189,
                        "digest": "a80c4f17acd55265feec403c7aef86be"
                        "0c25983ab279d83f3bcd3abbcb5b8b72",
                        "details": {
                            "parent_model": "",
                            "format": "gguf",
                            "family": "llama",
                            "families": ["llama"],
                            "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M",
                        },
                    }
                    for name in self.models
                ]
            }
        )

    async def embed(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        canned = self.canned(self.next_behaviour(Reply()))
        if canned is not None:
            return canned
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dims = int(body.get("dimensions") or 32)
        return web.json_response(
            {
                "model": body["model"],
                "embeddings": [fake_vector(text, dims) for text in inputs],
                "total_duration": 14143917,
                "load_duration": 1019500,
                "prompt_eval_count": sum(len(t.split()) for t in inputs),
            }
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        last_user = next((m for m in reversed(body["messages"]) if m["role"] == "user"), None)
        behaviour = self.next_behaviour(Reply(text=last_user["content"] if last_user else "ok"))
        problem = _bad_request(body)
        if problem is not None:
            return self.error_response(ollama_error(400, problem))
        canned = self.canned(behaviour)
        if canned is not None:
            return canned
        if isinstance(behaviour, TruncatedStream):
            return await self.truncated(request, body, behaviour)
        if isinstance(behaviour, StreamFailure):
            return await self.failing(request, body, behaviour)
        fault = await self.play_fault(
            request, behaviour, bool(body.get("stream", True)), self.wire(body)
        )
        if fault is not None:
            return fault
        behaviour = self.as_reply(behaviour)
        await self.sleep(behaviour.delay_s)
        # Ollama streams unless told otherwise.
        if body.get("stream", True):
            return await self.stream(request, body, behaviour)
        final = self.final(body, behaviour, self.message(behaviour))
        text = final["message"]["content"]
        if body.get("logprobs") and text:
            final["logprobs"] = token_logprobs(text, int(body.get("top_logprobs") or 0))
        return web.json_response(final)

    @staticmethod
    def message(reply: Reply, text: str | None = None) -> dict[str, Any]:
        """The answer's message: its text in `content`, its reasoning in `thinking`."""
        blocks = blocks_of(reply)
        texts = "".join(b for b in blocks if isinstance(b, str))
        thinking = "".join(b.text for b in blocks if isinstance(b, Thinking))
        message: dict[str, Any] = {
            "role": "assistant",
            "content": texts if text is None else text,
        }
        if thinking and text is None:
            message["thinking"] = thinking
        if reply.tool_calls:
            # Ollama sends arguments as an object and (older servers) no call id.
            message["tool_calls"] = [
                {"function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in reply.tool_calls
            ]
        return message

    @staticmethod
    def final(body: dict[str, Any], reply: Reply, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": body["model"],
            "created_at": _now(),
            "message": message,
            "done_reason": reply.finish_reason or "stop",
            "done": True,
            "total_duration": 885095291,
            "load_duration": 3753500,
            "prompt_eval_count": reply.prompt_tokens,
            "prompt_eval_duration": 328493000,
            "eval_count": reply.completion_tokens,
            "eval_duration": 552222000,
        }

    @staticmethod
    def line(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj).encode() + b"\n"

    def wire(self, body: dict[str, Any]) -> StreamWire:
        """NDJSON: the final `"done": true` object is both the finish (done_reason, eval
        counts) and the end of the stream; there is no separate terminal marker."""

        def finish(reply: Reply) -> list[bytes]:
            final = self.final(body, reply, {})
            del final["message"]
            return [self.line(final)]

        return StreamWire(
            content_type="application/x-ndjson",
            opener=[],
            delta=lambda text: self._chunk(body, text),
            finish=finish,
            end=[],
            malformed=b'{"model": "llama3.2", "message": {"role": "assis\n',
        )

    async def _open(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        return response

    def _chunk(self, body: dict[str, Any], content: str, thinking: str | None = None) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if thinking is not None:
            message["thinking"] = thinking
        chunk: dict[str, Any] = {
            "model": body["model"],
            "created_at": _now(),
            "message": message,
            "done": False,
        }
        if body.get("logprobs") and content:
            chunk["logprobs"] = token_logprobs(content, int(body.get("top_logprobs") or 0))
        return self.line(chunk)

    async def stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = await self._open(request)
        for block in blocks_of(reply):
            if isinstance(block, Thinking):
                for piece in split_text(block.text):
                    await response.write(self._chunk(body, "", thinking=piece))
            elif isinstance(block, str):
                for piece in split_text(block):
                    await response.write(self._chunk(body, piece))
            elif isinstance(block, Refusal | ServerTool):
                raise TypeError("Ollama has no refusal or server-tool blocks")
        if reply.tool_calls:
            # Tool calls arrive whole, in a chunk of their own, before the final object.
            tool_only = Reply(tool_calls=reply.tool_calls)
            await response.write(
                self.line(
                    {
                        "model": body["model"],
                        "created_at": _now(),
                        "message": self.message(tool_only, ""),
                        "done": False,
                    }
                )
            )
        # The final object of a stream carries statistics and no message, as documented.
        final = self.final(body, reply, {})
        del final["message"]
        await response.write(self.line(final))
        await response.write_eof()
        return response

    async def truncated(
        self, request: web.Request, body: dict[str, Any], t: TruncatedStream
    ) -> web.StreamResponse:
        response = await self._open(request)
        pieces = split_text(t.text, 6)[: t.chunks]
        return await self.cut_off(request, response, [self._chunk(body, p) for p in pieces])

    async def failing(
        self, request: web.Request, body: dict[str, Any], f: StreamFailure
    ) -> web.StreamResponse:
        """A stream that reports an error in-band, as Ollama does once it has started."""
        response = await self._open(request)
        await response.write(self._chunk(body, f.text))
        await response.write(self.line({"error": f.message}))
        await response.write_eof()
        return response


def _recorded(request: web.Request, body: Any) -> Any:
    from .base import Recorded

    return Recorded(request.method, request.path, dict(request.headers), body)


def _bad_request(body: dict[str, Any]) -> str | None:
    """What Ollama answers 400 to: a `think` value that is neither a boolean nor a level,
    top_logprobs outside 0..20."""
    think = body.get("think")
    if think is not None and not isinstance(think, bool) and think not in THINK_LEVELS:
        return f"invalid think value: {think!r}"
    top = body.get("top_logprobs")
    if top is not None and not (isinstance(top, int) and 0 <= top <= 20):
        return "top_logprobs must be between 0 and 20"
    return None
