"""The daemon's stdout: every frame written in one event-loop iteration leaves in one write.

pygls' `StdoutWriter` does a blocking write and flush per message; under pipelined load that
is one system call per answer. Coalescing per loop iteration keeps the order of frames (one
FIFO buffer), adds no latency (the flush runs before the loop next waits for input), and
turns a burst of answers into one system call (measured in bench/, see docs/benchmarks.md).

`sys.stdout.buffer` is a raw `FileIO` when Python runs unbuffered (`-u`, `PYTHONUNBUFFERED`,
which editors often set): its `write` may write only part of the data (a signal interrupting
a write to a full pipe), so every write here loops until all of it has left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

log = logging.getLogger("dspex.server")

IDLE_READY = 4  # see CoalescingWriter.flush_if_idle


class CoalescingWriter:
    def __init__(self, stream: BinaryIO, loop: asyncio.AbstractEventLoop) -> None:
        self._stream = stream
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._pending: list[bytes] = []
        self._after: list[Callable[[], None]] = []
        self._broken = False

    def after_flush(self, fn: Callable[[], None]) -> None:
        """Run `fn` once what is written so far has left (right after the next flush)."""
        if not self._pending:
            self._loop.call_soon(fn)
        else:
            self._after.append(fn)

    def write(self, data: bytes) -> None:
        if threading.get_ident() != self._loop_thread:
            # pygls may answer from a worker thread (thread handlers): hand over to the loop.
            self._loop.call_soon_threadsafe(self.write, data)
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush_if_idle(self) -> None:
        """Flush now if the loop has next to nothing else queued to run: a lone stream's
        chunk leaves at once rather than after the rest of its task's step (the answer's
        assembly, when the stream's end is already buffered). While other work is queued
        (concurrent requests), frames keep sharing the pass's one write. "Next to nothing":
        at most IDLE_READY callbacks, which covers the pass's own flushes and the socket
        the stream reads. (The ready queue is asyncio's loop's own; on a loop without it
        frames always wait for the pass.)"""
        ready = getattr(self._loop, "_ready", None)
        if ready is not None and len(ready) <= IDLE_READY and self._pending:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._broken:
            try:
                _write_all(self._stream, data)
                self._stream.flush()
            except (BrokenPipeError, ConnectionResetError):
                self._broken = True
                log.warning("the client went away; answers are dropped")
        if self._after:
            after, self._after = self._after, []
            for fn in after:
                fn()

    def close(self) -> None:
        self.flush()


def _write_all(stream: BinaryIO, data: bytes) -> None:
    """Write all of `data`: a raw stream may take part of it per call."""
    view = memoryview(data)
    while view:
        try:
            written = stream.write(view)
        except BlockingIOError as exc:  # a buffered stream on a non-blocking fd (a socket
            written = exc.characters_written  # shared with stdin, which asyncio reads)
        if not written:  # a non-blocking raw stream that would block: let the reader drain
            time.sleep(0.001)
            continue
        view = view[written:]
