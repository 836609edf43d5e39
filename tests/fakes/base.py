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
class Thinking:
    """A reasoning block of an answer: its text (or summary), the signature the provider
    sends with it, or opaque `redacted` data instead of text."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass
class ServerTool:
    """A tool the provider ran itself: its call (name, input) and its result (output), as
    the format renders them (`result_type`: the result block's type where it has one)."""

    id: str
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    result_type: str | None = None


@dataclass
class Refusal:
    text: str


Block = str | Thinking | ServerTool | Refusal


@dataclass
class Reply:
    """A normal answer. The fake renders it in its own wire format (plain or streamed).
    `blocks`, where given, is the answer's content in order (strings are text) instead
    of `text`; the tool calls follow it."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {id, name, arguments}
    prompt_tokens: int = 11
    completion_tokens: int = 7
    finish_reason: str | None = None
    delay_s: float = 0.0
    blocks: list[Block] = field(default_factory=list)
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


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


@dataclass
class ConnectionReset:
    """Accept the request, then reset the connection: without a byte of answer (before
    the headers), or `after_headers`: after the status line `200` and the headers (and,
    for a stream, the format's opening events, no token), as a dying proxy would."""

    after_headers: bool = False


@dataclass
class Stall:
    """Stream `chunks` deltas of `text`, go silent for `stall_s` (no byte at all), then
    stream the rest and finish normally."""

    text: str = "one two three four five six"
    chunks: int = 2
    stall_s: float = 5.0


@dataclass
class MalformedEvent:
    """A complete stream of `text` with one malformed event (in the format's framing, a
    payload that does not parse) after `at` deltas: every other token is valid."""

    text: str = "one two three four five six"
    at: int = 2


@dataclass
class CleanClose:
    """A stream that ends with a clean close (no reset) before the format's terminal
    event: with `chunks=None` after every delta, the finish reason and the usage (only
    the terminal marker missing: `[DONE]`, `message_stop`, Bedrock's `metadata`); with
    `chunks=N` after N deltas, before any finish reason."""

    text: str = "one two three four five six"
    chunks: int | None = None


@dataclass
class SlowStream:
    """Stream `chunks` deltas `interval_s` apart (then finish normally). The fake counts
    what it wrote (`chunks_sent`) and notices the client closing (`disconnected`)."""

    chunks: int = 100
    interval_s: float = 0.05
    piece: str = "tick "


Behaviour = (
    Reply
    | HttpError
    | Garbage
    | TruncatedStream
    | StreamErrorEvent
    | ConnectionReset
    | SlowStream
    | Stall
    | MalformedEvent
    | CleanClose
)
StreamFault = Stall | MalformedEvent | CleanClose
# What a client sees of a reset after the headers: part of a JSON body, then nothing.
PARTIAL_JSON = b'{"id": "partial-body", "choices": ['
RESET_PAUSE_S = 0.05  # long enough for the client to read the headers before the reset


@dataclass
class StreamWire:
    """How one wire format renders a stream, for the faults every fake plays the same way:
    the events before the first token, one text delta, the finish (reason and usage), the
    terminal marker (empty where the format has none), and one malformed event."""

    content_type: str
    opener: list[bytes]
    delta: Callable[[str], bytes]
    finish: Callable[[Reply], list[bytes]]
    end: list[bytes]
    malformed: bytes


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
        self.chunks_sent = 0
        self.disconnected = asyncio.Event()
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
        self.disconnects = self.chunks_sent = 0
        self.disconnected.clear()

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

    async def play_fault(
        self, request: web.Request, behaviour: Behaviour, streaming: bool, wire: StreamWire
    ) -> web.StreamResponse | None:
        """The answer to a connection or stream fault, in `wire`'s format; None when
        `behaviour` is none of them (the fake renders it itself)."""
        if isinstance(behaviour, ConnectionReset):
            if not behaviour.after_headers:
                return self.reset_connection(request)
            if streaming:
                return await self.reset_after_headers(request, wire.content_type, wire.opener)
            return await self.reset_after_headers(
                request, "application/json", [PARTIAL_JSON], length=4096
            )
        if isinstance(behaviour, Stall | MalformedEvent | CleanClose) and streaming:
            return await self.faulty_stream(request, behaviour, wire)
        return None

    @staticmethod
    def as_reply(behaviour: Behaviour) -> Reply:
        """The plain answer to what is left: a Reply, or a stream fault's text when the
        request does not stream (stream faults need a stream)."""
        if isinstance(behaviour, Reply):
            return behaviour
        if isinstance(behaviour, Stall | MalformedEvent | CleanClose):
            return Reply(text=behaviour.text)
        raise TypeError(f"this fake does not play {type(behaviour).__name__} here")

    async def reset_after_headers(
        self,
        request: web.Request,
        content_type: str,
        head: list[bytes],
        length: int | None = None,
    ) -> web.StreamResponse:
        """Status 200 and headers (and `head`), a pause, then a reset (RST)."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        if length is not None:
            response.content_length = length
        await response.prepare(request)
        # aiohttp holds the headers back until the first body write: send them now.
        await response.write(b"".join(head) or b"\n")
        await asyncio.sleep(RESET_PAUSE_S)
        return self.reset_connection(request)

    async def faulty_stream(
        self, request: web.Request, fault: StreamFault, wire: StreamWire
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": wire.content_type})
        await response.prepare(request)
        pieces = split_text(fault.text, 6)
        events = [*wire.opener]
        if isinstance(fault, CleanClose):
            if fault.chunks is not None:
                events += [wire.delta(p) for p in pieces[: fault.chunks]]
            else:
                events += [wire.delta(p) for p in pieces] + wire.finish(Reply(text=fault.text))
            for event in events:
                await response.write(event)
            await response.write_eof()  # a clean end of the body, no terminal event
            return response
        cut = fault.chunks if isinstance(fault, Stall) else fault.at
        head = events + [wire.delta(p) for p in pieces[:cut]]
        tail = [wire.delta(p) for p in pieces[cut:]] + wire.finish(Reply(text=fault.text))
        for event in head:
            await response.write(event)
        if isinstance(fault, Stall):
            await self.sleep(fault.stall_s)
        else:
            await response.write(wire.malformed)
        for event in tail + wire.end:
            await response.write(event)
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
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:  # aiohttp cancels the handler on disconnect
                self.note_disconnect()
                raise

    def note_disconnect(self) -> None:
        self.disconnects += 1
        self.disconnected.set()

    @staticmethod
    def reset_connection(request: web.Request) -> web.StreamResponse:
        """Drop the connection at once; the client sees a reset / disconnect."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.StreamResponse()

    async def write_slowly(
        self, response: web.StreamResponse, chunks: list[bytes], interval_s: float
    ) -> bool:
        """Write chunks `interval_s` apart; False when the client went away first."""
        try:
            for chunk in chunks:
                await response.write(chunk)
                self.chunks_sent += 1
                await asyncio.sleep(interval_s)
        except (ConnectionError, asyncio.CancelledError):
            self.note_disconnect()
            raise
        return True


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
