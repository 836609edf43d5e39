"""JSON-RPC 2.0 with LSP framing over a pair of asyncio streams (stdlib only)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from .errors import DaemonUnavailableError, DspexError, error_from_response

log = logging.getLogger("dspex.client")

NotificationHandler = Callable[[str, Any], None]
RequestHandler = Callable[[str, Any], Any]


class Connection:
    """Sends requests and notifications, matches responses to requests by id, routes
    `$/progress` notifications to per-token queues, and answers the server's requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[Any]] = {}
        self._progress: dict[int | str, asyncio.Queue[Any]] = {}
        self.on_notification: NotificationHandler | None = None
        self.on_request: RequestHandler | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed: DspexError | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._fail_pending(DaemonUnavailableError("the connection was closed"))

    # -- sending -------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        if self._closed is not None:
            raise DaemonUnavailableError("the daemon's connection is closed")
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self._writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def drain(self) -> None:
        drain = getattr(self._writer, "drain", None)
        if drain is not None:
            try:
                await drain()
            except (ConnectionError, BrokenPipeError) as exc:
                raise DaemonUnavailableError("the daemon's connection is closed") from exc

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def new_id(self) -> int:
        return next(self._ids)

    def progress_queue(self, token: int | str) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._progress[token] = queue
        return queue

    def drop_progress(self, token: int | str) -> None:
        self._progress.pop(token, None)

    async def request(
        self, method: str, params: Any = None, *, request_id: int | str | None = None
    ) -> Any:
        """Send a request and wait for its answer. Cancelling the awaiting task sends
        `$/cancelRequest` to the daemon."""
        msg_id = self.new_id() if request_id is None else request_id
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            self._send(message)
            await self.drain()
            return await future
        except asyncio.CancelledError:
            if not future.done() and self._closed is None:
                with contextlib.suppress(DspexError, OSError):
                    self.notify("$/cancelRequest", {"id": msg_id})
            raise
        finally:
            self._pending.pop(msg_id, None)

    # -- receiving -----------------------------------------------------------------

    async def _read_frame(self) -> bytes | None:
        length: int | None = None
        while True:
            line = await self._reader.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                if length is None:
                    continue
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        try:
            return await self._reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None

    async def _read_loop(self) -> None:
        try:
            while True:
                body = await self._read_frame()
                if body is None:
                    break
                self._dispatch(json.loads(body))
            self._closed = DaemonUnavailableError("the daemon closed its output")
        except asyncio.CancelledError:
            self._closed = DaemonUnavailableError("the connection was closed")
            raise
        except Exception as exc:  # a broken frame: the stream cannot be trusted any more
            log.error("client read loop failed: %s", exc)
            self._closed = DaemonUnavailableError(f"bad data from the daemon: {exc}")
        finally:
            self._fail_pending(self._closed or DaemonUnavailableError("closed"))

    def _fail_pending(self, exc: DspexError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        for queue in self._progress.values():
            queue.put_nowait(exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message:
            method, params = message["method"], message.get("params")
            if "id" in message:
                self._answer_server_request(message["id"], method, params)
            elif method == "$/progress" and isinstance(params, dict):
                queue = self._progress.get(params.get("token"))  # type: ignore[arg-type]
                if queue is not None:
                    queue.put_nowait(params.get("value"))
            elif self.on_notification is not None:
                self.on_notification(method, params)
            return
        future = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(error_from_response(message["error"]))
        else:
            future.set_result(message.get("result"))

    def _answer_server_request(self, msg_id: Any, method: str, params: Any) -> None:
        response: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id}
        try:
            if self.on_request is None:
                raise LookupError(method)
            response["result"] = self.on_request(method, params)
        except LookupError:
            response["error"] = {"code": -32601, "message": f"client does not handle {method}"}
        self._send(response)
