"""A fake Anthropic Messages API (documented request checks, message body with thinking,
server-tool and cache usage fields, SSE event sequence, error bodies, models list)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from .anthropic_checks import betas, check_request
from .base import (
    Block,
    FakeProvider,
    HttpError,
    Refusal,
    Reply,
    ServerTool,
    StreamErrorEvent,
    StreamWire,
    Thinking,
    TruncatedStream,
    split_text,
    sse_event,
)

REQUEST_ID = "req_011CFakeAnthropic"
MCP_RESULT = "mcp_tool_result"


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
        # Thinking signatures (and redacted data) this fake issued -> the text they sign:
        # the API accepts only its own, unchanged.
        self.signatures: dict[str, str] = {}
        # Raw blocks of a type this fake does not model, put before the next answer's
        # content (as a later API version might send them).
        self.unknown_blocks: list[dict[str, Any]] = []

    def reset(self) -> None:
        super().reset()
        self.unknown_blocks = []

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
        problem = check_request(body, betas(request.headers), self.signatures)
        if problem is not None:
            return self.error_response(anthropic_error(400, "invalid_request_error", problem))
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
        if reply.finish_reason:
            return reply.finish_reason
        if any(isinstance(b, Refusal) for b in reply.blocks):
            return "refusal"
        return "tool_use" if reply.tool_calls else "end_turn"

    @staticmethod
    def _usage(reply: Reply, output: int | None = None) -> dict[str, Any]:
        write = reply.cache_write_tokens or 0
        return {
            "input_tokens": reply.prompt_tokens,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": 3 if reply.cached_tokens is None else reply.cached_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": write, "ephemeral_1h_input_tokens": 0},
            "output_tokens": reply.completion_tokens if output is None else output,
            "service_tier": "standard",
        }

    def sign(self, text: str) -> str:
        signature = "EqQBCkYIBRgC" + hashlib.sha256(text.encode()).hexdigest()[:40]
        self.signatures[signature] = text
        return signature

    def _block(self, item: Block, body: dict[str, Any]) -> list[dict[str, Any]]:
        """One item of Reply.blocks as the API's content blocks."""
        if isinstance(item, str):
            return [{"type": "text", "text": item}] if item else []
        if isinstance(item, Refusal):  # the stop reason says it; the text is what came
            return [{"type": "text", "text": item.text}] if item.text else []
        if isinstance(item, Thinking):
            if item.redacted is not None:
                self.signatures[item.redacted] = ""
                return [{"type": "redacted_thinking", "data": item.redacted}]
            signature = item.signature or self.sign(item.text)
            self.signatures[signature] = item.text
            return [{"type": "thinking", "thinking": item.text, "signature": signature}]
        return self._server_tool(item, body)

    @staticmethod
    def _server_tool(tool: ServerTool, body: dict[str, Any]) -> list[dict[str, Any]]:
        mcp = tool.result_type == MCP_RESULT
        use: dict[str, Any] = {
            "type": "mcp_tool_use" if mcp else "server_tool_use",
            "id": tool.id,
            "name": tool.name,
            "input": tool.input,
        }
        if mcp:
            servers = body.get("mcp_servers") or [{"name": "mcp"}]
            use["server_name"] = servers[0]["name"]
        if tool.output is None and tool.result_type is None:
            return [use]  # the turn paused before the result (pause_turn)
        result: dict[str, Any] = {
            "type": tool.result_type or f"{tool.name}_tool_result",
            "tool_use_id": tool.id,
            "content": tool.output,
        }
        if mcp:
            result["is_error"] = False
        return [use, result]

    def content(self, body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
        items: list[Block] = list(reply.blocks) or ([reply.text] if reply.text else [])
        blocks = [dict(b) for b in self.unknown_blocks]
        for item in items:
            blocks += self._block(item, body)
        blocks += [
            {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
            for c in reply.tool_calls
        ]
        return blocks

    def _message_head(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "msg_01FakeMessage",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
        }

    def message(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        return {
            **self._message_head(body),
            "content": self.content(body, reply),
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
    def _event(index: int, kind: str, payload: dict[str, Any]) -> bytes:
        key = "content_block" if kind == "content_block_start" else "delta"
        data: dict[str, Any] = {"type": kind, "index": index}
        if kind != "content_block_stop":
            data[key] = payload
        return sse_event(data, kind)

    def _block_events(self, index: int, block: dict[str, Any]) -> list[bytes]:
        """One content block as the documented events: start (empty text, thinking or
        input), its deltas, stop. Result and redacted blocks come whole in their start."""
        kind = block["type"]
        start, deltas = block, []
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_text(block["text"])]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            pieces = split_text(block["thinking"])
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            start = {**block, "input": {}}
            # The API's first input_json_delta is often empty; the rest are JSON fragments.
            args = json.dumps(block["input"])
            third = max(1, len(args) // 3)
            thirds = (args[:third], args[third : 2 * third], args[2 * third :])
            pieces = ["", *(p for p in thirds if p)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        elif kind not in ("redacted_thinking",) and not kind.endswith("_tool_result"):
            deltas = [{"type": f"{kind}_delta", "content": "an unknown delta"}]
        return [
            self._event(index, "content_block_start", start),
            *(self._event(index, "content_block_delta", d) for d in deltas),
            self._event(index, "content_block_stop", {}),
        ]

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
        for index, block in enumerate(self.content(body, reply)):
            events += self._block_events(index, block)
        usage = self._usage(reply)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
            # Cumulative counts: output, and (on current models) the input side again.
            "usage": {k: v for k, v in usage.items() if k != "service_tier"},
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
