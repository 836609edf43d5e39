"""A fake Anthropic Messages API (documented request checks, message body, SSE event
sequence, error bodies, models list)."""

from __future__ import annotations

import json
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

REQUEST_ID = "req_011CFakeAnthropic"


def anthropic_error(
    status: int, type_: str, message: str, headers: dict[str, str] | None = None
) -> HttpError:
    body = {
        "type": "error",
        "error": {"type": type_, "message": message},
        "request_id": REQUEST_ID,
    }
    return HttpError(status, body, {"request-id": REQUEST_ID, **(headers or {})})


class FakeAnthropic(FakeProvider):
    model_ids = (
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5"),
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"),
        ("claude-opus-4-1-20250805", "Claude Opus 4.1"),
    )

    def __init__(self, api_key: str | None = "sk-ant-test-fake-key") -> None:
        super().__init__(api_key)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/messages", self.messages), web.get("/v1/models", self.models)]

    def refusal(self, request: web.Request) -> HttpError | None:
        """What the real API answers before looking at the body."""
        if request.headers.get("x-api-key") != self.api_key:
            return anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return anthropic_error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        return None

    async def models(self, request: web.Request) -> web.Response:
        await self.record(request)
        refused = self.refusal(request)
        if refused is not None:
            return self.error_response(refused)
        limit = int(request.query.get("limit", "20"))
        ids = [m[0] for m in self.model_ids]
        after = request.query.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        page = self.model_ids[start : start + limit]
        data = [
            {"type": "model", "id": m, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}
            for m, name in page
        ]
        return web.json_response(
            {
                "data": data,
                "has_more": start + limit < len(ids),
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        refused = self.refusal(request)
        if refused is not None:
            return self.error_response(refused)
        if not isinstance(body, dict) or "max_tokens" not in body:
            return self.error_response(
                anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
            )
        behaviour = self.next_behaviour(Reply(text=self._echo(body)))
        canned = self.canned(behaviour)
        if canned is not None:
            return canned
        if isinstance(behaviour, TruncatedStream | StreamErrorEvent):
            return await self.broken_stream(request, body, behaviour)
        fault = await self.play_fault(request, behaviour, bool(body.get("stream")), self.wire(body))
        if fault is not None:
            return fault
        behaviour = self.as_reply(behaviour)
        await self.sleep(behaviour.delay_s)
        if body.get("stream"):
            return await self.stream(request, body, behaviour)
        return web.json_response(self.message(body, behaviour), headers={"request-id": REQUEST_ID})

    @staticmethod
    def _echo(body: dict[str, Any]) -> str:
        for message in reversed(body.get("messages") or []):
            content = message.get("content")
            if message.get("role") == "user" and isinstance(content, str):
                return content
            if message.get("role") == "user" and isinstance(content, list):
                texts = [b["text"] for b in content if b.get("type") == "text"]
                if texts:
                    return "".join(texts)
        return "ok"

    @staticmethod
    def _stop_reason(reply: Reply) -> str:
        return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")

    @staticmethod
    def _usage(reply: Reply, output: int | None = None) -> dict[str, Any]:
        return {
            "input_tokens": reply.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 3,
            "output_tokens": reply.completion_tokens if output is None else output,
            "service_tier": "standard",
        }

    def _message_head(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "msg_01FakeMessage",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
        }

    def message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content += [
            {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
            for c in reply.tool_calls
        ]
        return {
            **self._message_head(body),
            "content": content,
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": self._usage(reply),
        }

    def _start_events(self, body: dict[str, Any], reply: Reply) -> list[bytes]:
        start = {
            **self._message_head(body),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._usage(reply, output=1),
        }
        return [
            sse_event({"type": "message_start", "message": start}, "message_start"),
            sse_event({"type": "ping"}, "ping"),
        ]

    @staticmethod
    def _text_events(index: int, pieces: list[str]) -> list[bytes]:
        events = [
            sse_event(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
        ]
        events += [
            sse_event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                },
                "content_block_delta",
            )
            for piece in pieces
        ]
        return events

    @staticmethod
    def _tool_events(index: int, call: dict[str, Any]) -> list[bytes]:
        args = json.dumps(call["arguments"])
        half = len(args) // 2
        start = {"type": "tool_use", "id": call["id"], "name": call["name"], "input": {}}
        events = [
            sse_event(
                {"type": "content_block_start", "index": index, "content_block": start},
                "content_block_start",
            )
        ]
        # The API's first input_json_delta is often empty; the rest are JSON fragments.
        events += [
            sse_event(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": frag},
                },
                "content_block_delta",
            )
            for frag in ("", args[:half], args[half:])
        ]
        events.append(
            sse_event({"type": "content_block_stop", "index": index}, "content_block_stop")
        )
        return events

    def wire(self, body: dict[str, Any]) -> StreamWire:
        def finish(reply: Reply) -> list[bytes]:
            delta = {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": reply.completion_tokens},
            }
            return [
                sse_event({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                sse_event(delta, "message_delta"),
            ]

        return StreamWire(
            content_type="text/event-stream",
            opener=self._start_events(body, Reply()) + self._text_events(0, [])[:1],
            delta=lambda text: self._text_events(0, [text])[1],
            finish=finish,
            end=[sse_event({"type": "message_stop"}, "message_stop")],
            malformed=b"event: content_block_delta\n"
            b'data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_del\n\n',
        )

    async def stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = await self.open_sse(request, {"request-id": REQUEST_ID})
        events = self._start_events(body, reply)
        index = 0
        if reply.text:
            events += self._text_events(0, split_text(reply.text))
            events.append(
                sse_event({"type": "content_block_stop", "index": 0}, "content_block_stop")
            )
            index = 1
        for offset, call in enumerate(reply.tool_calls):
            events += self._tool_events(index + offset, call)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.completion_tokens},
        }
        events.append(sse_event(delta, "message_delta"))
        events.append(sse_event({"type": "message_stop"}, "message_stop"))
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async def broken_stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        behaviour: TruncatedStream | StreamErrorEvent,
    ) -> web.StreamResponse:
        pieces = split_text(behaviour.text, 6)[: behaviour.chunks]
        head = self._start_events(body, Reply())
        if pieces:
            head += self._text_events(0, pieces)
        return await self.broken_sse(
            request,
            behaviour,
            head,
            lambda body: sse_event(body, "error"),
            {"request-id": REQUEST_ID},
        )
