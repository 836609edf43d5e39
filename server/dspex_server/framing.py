"""LSP framing of the daemon's stdin, parsed as bytes arrive.

The daemon read its frames with a coroutine over an `asyncio.StreamReader`: each message
woke that task one event-loop pass after its bytes arrived, and each header line and body
was an await. `FrameReader` is the pipe's protocol itself: the frames a read completes are
dispatched in the same callback (one pass and one wake-up less per request: bench's
`added` scenario), and a pipelined burst is split in one go.

What it accepts, as before: header lines ended by CRLF or LF, blank lines before a frame's
headers skipped, `Content-Length` required (case-insensitive), other headers ignored. A
header line over 1 MB is a parse error (the line is skipped), a frame without a valid
length is a parse error, a body over `max_body` is refused with InvalidRequest and its
bytes skipped; the daemon reads on after each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

MAX_HEADER_LINE = 1 << 20
PARSE_ERROR = -32700
INVALID_REQUEST = -32600


class FrameReader(asyncio.Protocol):
    def __init__(
        self,
        on_body: Callable[[bytes], None],
        on_error: Callable[[int, str], None],
        max_body: int,
    ) -> None:
        self._on_body = on_body
        self._on_error = on_error
        self._max_body = max_body
        self._buffer = bytearray()
        self._length: int | None = None  # Content-Length of the frame being read
        self._seen_header = False
        self._body: int | None = None  # bytes of body awaited (headers read)
        self._skip = 0  # bytes of a refused body still to drop
        self._skip_line = False  # dropping the rest of an over-long header line
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.closed.done():  # `exit` stopped the reading: nothing after it is served
            return
        self._buffer += data
        self._parse()

    def eof_received(self) -> bool:
        self._close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._close()

    def _close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def _parse(self) -> None:
        buf = self._buffer
        while True:
            if self._skip:
                dropped = min(self._skip, len(buf))
                del buf[:dropped]
                self._skip -= dropped
                if self._skip:
                    return
            if self._body is not None:
                size = self._body
                if len(buf) < size:
                    return
                body = bytes(buf[:size])
                del buf[:size]
                self._body = None
                self._on_body(body)
                if self.closed.done():
                    return
                continue
            end = buf.find(b"\n")
            if self._skip_line:
                if end < 0:
                    buf.clear()
                    return
                del buf[: end + 1]
                self._skip_line = False
                continue
            if end < 0 and len(buf) <= MAX_HEADER_LINE:
                return
            if end < 0 or end >= MAX_HEADER_LINE:
                self._skip_line = end < 0
                del buf[: len(buf) if end < 0 else end + 1]
                self._reset()
                self._on_error(PARSE_ERROR, "header line too long")
                continue
            line = bytes(buf[: end + 1])
            del buf[: end + 1]
            if line in (b"\r\n", b"\n"):
                if self._seen_header:
                    self._end_of_headers()
                continue
            self._seen_header = True
            name, sep, value = line.decode("latin-1").partition(":")
            if sep and name.strip().lower() == "content-length":
                try:
                    self._length = int(value.strip())
                except ValueError:
                    self._length = None

    def _end_of_headers(self) -> None:
        length = self._length
        self._reset()
        if length is None or length < 0:
            self._on_error(PARSE_ERROR, "missing or invalid Content-Length")
        elif length > self._max_body:
            self._skip = length
            self._on_error(INVALID_REQUEST, f"message over {self._max_body} bytes")
        else:
            self._body = length

    def _reset(self) -> None:
        self._length = None
        self._seen_header = False
