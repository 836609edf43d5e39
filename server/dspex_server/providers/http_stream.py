"""Reading a streamed answer: its bytes as they arrive, decoded into Server-Sent Events or
newline-delimited JSON, with the idle bound applied.

With the default `httpTransport = "aiohttp"` a stream is read from the aiohttp session of
the provider's pooled client directly (`AiohttpStream`), as whole bodies are: httpx's
streaming response, its byte and text iterators and httpx-sse's iterator stack were most of
the daemon's CPU per streamed chunk (docs/benchmarks.md). The event grammar is httpx-sse's
decoders (the SSE spec's line splitting on CR, LF or CRLF and its field interpretation),
fed with the bytes of each network read; every event a read completes is decoded before
the next read is awaited, so a burst of tokens is parsed in one go. The httpx transport
gives its `httpx.Response`, which has the same surface.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from ..errors import DspexError

if TYPE_CHECKING:
    import aiohttp

T = TypeVar("T")

# Run by a stream reader right before it waits for the network, in the consuming task's
# context: everything decoded so far has been handed on, so whoever collects it (the
# daemon's partial-results sink, partials.py) can send it now rather than one event-loop
# pass later.
before_network_wait: ContextVar[Callable[[], None] | None] = ContextVar(
    "before_network_wait", default=None
)

Headers = Mapping[str, str]  # httpx.Headers or aiohttp's CIMultiDictProxy: case-insensitive


class HttpResponse(Protocol):
    """What the adapters read of a response's status line and headers."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def reason_phrase(self) -> str: ...


class StreamResponse(HttpResponse, Protocol):
    """An open streaming response: status and headers read, the body still to come."""

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...
    async def aread(self) -> bytes: ...
    async def aclose(self) -> None: ...


class AiohttpStream:
    """An aiohttp response as a StreamResponse. Closing it before the body ended closes
    the connection (the provider stops generating); a body read to its end returns the
    connection to the pool."""

    __slots__ = ("raw",)

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self.raw = raw

    @property
    def status_code(self) -> int:
        return self.raw.status

    @property
    def headers(self) -> Headers:
        return self.raw.headers

    @property
    def reason_phrase(self) -> str:
        return self.raw.reason or ""

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self.raw.content.iter_any()

    async def aread(self) -> bytes:
        return await self.raw.read()

    async def aclose(self) -> None:
        self.raw.release()
        await self.raw.wait_for_close()


@dataclass(frozen=True, slots=True)
class Malformed:
    """A stream event that does not parse (not JSON, not an object): skipped and counted,
    so that every valid token before and after it is still delivered."""

    snippet: str


def malformed(raw: bytes | str) -> Malformed:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return Malformed(text[:80].strip())


class LineDecoder:
    """Lines of a UTF-8 byte stream, split on CR, LF or CRLF (httpx-sse's line decoder,
    fed with bytes; a character split across two reads is joined)."""

    __slots__ = ("_lines", "_text")

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")("replace")
        self._lines = SSELineDecoder()

    def feed(self, data: bytes) -> list[str]:
        text = self._text.decode(data)
        return self._lines.decode(text) if text else []

    def close(self) -> list[str]:
        text = self._text.decode(b"", final=True)
        lines = self._lines.decode(text) if text else []
        return lines + self._lines.flush()


class SseDecoder:
    """Server-Sent Events of a byte stream (httpx-sse's event decoder over `LineDecoder`).
    An event not ended by a blank line when the stream ends is dropped, as the spec says."""

    __slots__ = ("_events", "_lines")

    def __init__(self) -> None:
        self._lines = LineDecoder()
        self._events = SSEDecoder()

    def _decode(self, lines: list[str]) -> list[ServerSentEvent]:
        decode = self._events.decode
        return [event for line in lines if (event := decode(line)) is not None]

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        return self._decode(self._lines.feed(data))

    def close(self) -> list[ServerSentEvent]:
        return self._decode(self._lines.close())


class Decoded(Generic[T]):
    """The items `feed` decodes from each chunk of bytes (and `close` from what is left at
    the end), in order; cut with `on_stall()` when no item arrives for `idle_s` after the
    first one (`streamIdleTimeoutMs`; the wait for the first one is bounded by the request's
    timeout). The bound is armed once per network read, not per item; the items of one read
    are handed out without awaiting anything. `check` runs before the first read (a content
    type check). A plain iterator rather than an async generator: nothing to finalise when
    a consumer stops early (the response is closed by whoever opened it)."""

    __slots__ = ("_at", "_check", "_chunks", "_close", "_done", "_feed", "_idle_s", "_items",
                 "_last", "_loop", "_on_stall")  # fmt: skip

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        feed: Callable[[bytes], list[T]],
        close: Callable[[], list[T]],
        idle_s: float | None,
        on_stall: Callable[[], DspexError],
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._chunks = aiter(chunks)
        self._feed = feed
        self._close = close
        self._idle_s = idle_s
        self._on_stall = on_stall
        self._check = check
        self._loop = asyncio.get_running_loop()
        self._items: list[T] = []
        self._at = 0
        self._last: float | None = None  # when the item after the last one was asked for
        self._done = False

    def __aiter__(self) -> Decoded[T]:
        return self

    async def __anext__(self) -> T:
        items, at = self._items, self._at
        if at < len(items):
            self._at = at + 1
            return items[at]
        if items:  # every item handed out: the next one is asked for now
            self._last = self._loop.time()
            self._items, self._at = [], 0
        if self._check is not None:
            check, self._check = self._check, None
            await check()
        while not self._done:
            waiting = before_network_wait.get()
            if waiting is not None:
                waiting()
            data = await self._read()
            if data is None:
                self._done = True
                items = self._close()
            else:
                items = self._feed(data)
            if items:
                self._items, self._at = items, 1
                return items[0]
        raise StopAsyncIteration

    async def _read(self) -> bytes | None:
        if self._idle_s is None or self._last is None:
            return await anext(self._chunks, None)
        limit = asyncio.timeout_at(self._last + self._idle_s)
        try:
            async with limit:
                return await anext(self._chunks, None)
        except TimeoutError:
            if limit.expired():  # ours, not a timeout raised inside the stream
                raise self._on_stall() from None
            raise


def idle_bounded(
    chunks: AsyncIterator[bytes], idle_s: float | None, on_stall: Callable[[], DspexError]
) -> Decoded[bytes]:
    """`chunks` as they come, cut with `on_stall()` when nothing arrives for `idle_s` after
    the first one (for streams decoded elsewhere: AWS event-stream frames)."""
    return Decoded(chunks, _one, _none, idle_s, on_stall)


def _one(item: bytes) -> list[bytes]:
    return [item]


def _none() -> list[Any]:
    return []


def sse_events(
    response: StreamResponse,
    idle_s: float | None,
    on_stall: Callable[[], DspexError],
    check: Callable[[], Awaitable[None]] | None = None,
) -> Decoded[ServerSentEvent]:
    """The Server-Sent Events of a streaming response, in order."""
    decoder = SseDecoder()
    return Decoded(response.aiter_bytes(), decoder.feed, decoder.close, idle_s, on_stall, check)


def sse_json(
    response: StreamResponse,
    idle_s: float | None,
    on_stall: Callable[[], DspexError],
    check: Callable[[], Awaitable[None]] | None = None,
) -> Decoded[Any]:
    """The JSON payloads of a streaming response's events, in order; events without data
    are skipped, and one whose data is not JSON comes as `Malformed`."""
    decoder = SseDecoder()

    def payloads(events: list[ServerSentEvent]) -> list[Any]:
        return [json_or_malformed(e.data) for e in events if e.data.strip()]

    return Decoded(
        response.aiter_bytes(),
        lambda data: payloads(decoder.feed(data)),
        lambda: payloads(decoder.close()),
        idle_s,
        on_stall,
        check,
    )


def json_lines(
    response: StreamResponse,
    idle_s: float | None,
    on_stall: Callable[[], DspexError],
    check: Callable[[], Awaitable[None]] | None = None,
) -> Decoded[Any]:
    """Newline-delimited JSON (one value per line), blank lines skipped; a line that is
    not JSON comes as `Malformed`."""
    decoder = LineDecoder()

    def values(lines: list[str]) -> list[Any]:
        return [json_or_malformed(line) for line in lines if line.strip()]

    return Decoded(
        response.aiter_bytes(),
        lambda data: values(decoder.feed(data)),
        lambda: values(decoder.close()),
        idle_s,
        on_stall,
        check,
    )


def json_or_malformed(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return malformed(text)


__all__ = [
    "AiohttpStream",
    "Decoded",
    "LineDecoder",
    "Malformed",
    "SseDecoder",
    "StreamResponse",
    "before_network_wait",
    "idle_bounded",
    "json_lines",
    "json_or_malformed",
    "malformed",
    "sse_events",
    "sse_json",
]
