"""What every fake provider shares: an aiohttp server on 127.0.0.1, a request log, and a
script of behaviours the test queues up (the next request takes the next behaviour)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict


@dataclass
class Reply:
    """A normal answer. The fake renders it in its own wire format (plain or streamed)."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments}
    prompt_tokens: int = 11
    completion_tokens: int = 7
    finish_reason: str | None = None
    delay_s: float = 0.0


@dataclass
class HttpError:
    """An error answer: status, a body in the provider's own error format, headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Garbage:
    """A 200 answer whose body is not what the format promises."""

    body: str = "<html><body>Bad gateway</body></html>"
    content_type: str = "text/html"


@dataclass
class TruncatedStream:
    """Stream `chunks` deltas of the reply, then drop the connection without finishing."""

    text: str = "partial answer that never ends"
    chunks: int = 2


@dataclass
class StreamErrorEvent:
    """Stream `chunks` deltas of `text`, then the provider's in-stream error event
    (`body` in its own error format), as a 200 response whose stream ends cleanly."""

    body: Any
    text: str = "partial answer"
    chunks: int = 0


Behaviour = Reply | HttpError | Garbage | TruncatedStream | StreamErrorEvent


@dataclass
class Recorded:
    method: str
    path: str
    headers: CIMultiDict[str]  # case-insensitive, as HTTP header names are
    body: Any


class FakeProvider:
    """Subclasses add routes in `routes()` and render behaviours in their format."""

    def __init__(self, api_key: str | None = "sk-test-fake-key") -> None:
        self.api_key = api_key
        self.script: deque[Behaviour] = deque()
        self.requests: list[Recorded] = []
        self.disconnects = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the script and the recorded requests (a fake shared between tests)."""
        self.script.clear()
        self.requests.clear()

    def queue(self, *behaviours: Behaviour) -> None:
        self.script.extend(behaviours)

    def next_behaviour(self, default: Behaviour) -> Behaviour:
        return self.script.popleft() if self.script else default

    async def record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(
            Recorded(request.method, request.path, CIMultiDict(request.headers), body)
        )
        return body

    async def start(self) -> FakeProvider:
        app = web.Application()
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeProvider:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @staticmethod
    def error_response(err: HttpError) -> web.Response:
        body = err.body if isinstance(err.body, str) else json.dumps(err.body)
        return web.Response(
            status=err.status, text=body, content_type=err.content_type, headers=err.headers
        )

    @staticmethod
    def garbage_response(g: Garbage) -> web.Response:
        return web.Response(status=200, text=g.body, content_type=g.content_type)

    @staticmethod
    async def open_sse(
        request: web.Request, headers: dict[str, str] | None = None
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                **(headers or {}),
            }
        )
        await response.prepare(request)
        return response

    def canned(self, behaviour: Behaviour) -> web.Response | None:
        """The answer to an HttpError or Garbage behaviour; None for the format to render."""
        if isinstance(behaviour, HttpError):
            return self.error_response(behaviour)
        if isinstance(behaviour, Garbage):
            return self.garbage_response(behaviour)
        return None

    async def broken_sse(
        self,
        request: web.Request,
        behaviour: TruncatedStream | StreamErrorEvent,
        head: list[bytes],
        error_event: Callable[[Any], bytes],
        headers: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        """Send the `head` events, then drop the connection (TruncatedStream) or send the
        format's error event and end the stream cleanly (StreamErrorEvent)."""
        response = await self.open_sse(request, headers)
        for event in head:
            await response.write(event)
        if isinstance(behaviour, TruncatedStream):
            self.drop_connection(request)
            return response
        await response.write(error_event(behaviour.body))
        await response.write_eof()
        return response

    @staticmethod
    def drop_connection(request: web.Request) -> None:
        """Close the socket mid-response, as a dying server or proxy would."""
        transport = request.transport
        if transport is not None:
            transport.close()

    async def cut_off(
        self, request: web.Request, response: web.StreamResponse, frames: list[bytes]
    ) -> web.StreamResponse:
        """Write some frames of a non-SSE stream (NDJSON, AWS event stream), then drop
        the connection without finishing."""
        for data in frames:
            await response.write(data)
        self.drop_connection(request)
        return response

    async def sleep(self, seconds: float) -> None:
        if seconds:
            await asyncio.sleep(seconds)


def sse_event(data: Any, event: str | None = None) -> bytes:
    """One Server-Sent Event: an optional `event:` line, then the JSON `data:` line."""
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data) + "\n\n").encode()


def split_text(text: str, parts: int = 3) -> list[str]:
    """Split text into `parts` roughly equal non-empty pieces (fewer for short text)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]
