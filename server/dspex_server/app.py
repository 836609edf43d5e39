"""The daemon: a pygls LanguageServer fed by an asyncio stdin reader.

pygls' own stdio reader hops to a thread pool for every header line and body (~9× slower,
see PYGLS_NOTES.md) and drops malformed frames without an answer. This module reads the
framing itself, answers parse errors and invalid requests as JSON-RPC says, and hands every
well-formed message to pygls for dispatch, cancellation and responses.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import logging
import sys
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    LanguageServerProtocol,
    default_converter,
)
from pygls.protocol.language_server import lsp_method

from dspex_protocol.names import COMMAND_NAMES, METHOD_NAMES, PROTOCOL_VERSION

from . import __version__
from .after_answer import run as run_after_answer
from .framing import FrameReader
from .logs import setup_logging
from .providers.names import PROVIDER_NAMES
from .stdout import CoalescingWriter

if TYPE_CHECKING:
    from dspex_protocol import DspexCapabilities

    from .services import Services

log = logging.getLogger("dspex.server")

MAX_BODY_BYTES = 64 * 1024 * 1024
EXIT_DRAIN_S = 30.0
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
# Messages handled before the daemon's services are loaded (see DspexServer.ensure_loaded).
LIFECYCLE = frozenset({types.INITIALIZE, types.SHUTDOWN, types.EXIT, types.CANCEL_REQUEST})


def dict_converter() -> Any:
    """Keep params and results of custom methods as plain dicts (see PYGLS_NOTES.md)."""
    converter = default_converter()  # type: ignore[no-untyped-call]
    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(cls, lambda obj, c: c(**obj))
    return converter


class DspexProtocol(LanguageServerProtocol):
    _server: DspexServer

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.exit_code: int | None = None
        self.shutdown_requested = False
        self.shutdown_id: Any = None
        # Running command handlers by the id of their `workspace/executeCommand` request.
        self.command_tasks: dict[Any, asyncio.Task[Any]] = {}
        # Work to run once the answer to a request id has been written (after_answer.py).
        self._after_answer: dict[Any, list[Callable[[], None]]] = {}

    def after_answer(self, work: list[Callable[[], None]]) -> None:
        """Run `work` once the answer to the request being handled has left."""
        msg_id = self._ctx_msg_id.get()
        if msg_id is None:
            run_after_answer(work)
        else:
            self._after_answer.setdefault(msg_id, []).extend(work)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        super()._send_response(msg_id, result, error)
        work = self._after_answer.pop(msg_id, None)
        if work is None:
            return
        after_flush = getattr(self.writer, "after_flush", None)
        if callable(after_flush):
            after_flush(lambda: run_after_answer(work))
        else:
            run_after_answer(work)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        self._server.initialize_params = params
        result: types.InitializeResult = yield from super().lsp_initialize(params)
        result.capabilities.experimental = {"dspex": self._server.capabilities_wire()}
        commands = result.capabilities.execute_command_provider
        if not self._server.loaded and commands is not None:
            # Commands are registered on loading, after this answer: advertise them now.
            known = list(commands.commands)
            commands.commands = known + [c for c in COMMAND_NAMES if c not in known]
        editor_capabilities(result.capabilities)
        return result

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """pygls runs a command as a task of its own, filed under a fresh uuid that is never
        removed, and `$/cancelRequest` answers -32800 without stopping it. Here the task is
        known by the request's id (so a cancel stops it: no provider call goes on unseen)
        and removed when done."""
        inner = super().lsp_workspace__execute_command(params)
        handler, args, kwargs = next(inner)  # an unknown command raises InvalidParams here
        msg_id = self._ctx_msg_id.get()
        futures, tasks = self._request_futures, self.command_tasks

        async def run() -> Any:
            task = asyncio.current_task()
            assert task is not None
            tasks[msg_id] = task
            try:
                result = handler(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result
            finally:
                tasks.pop(msg_id, None)
                for key in [k for k, f in futures.items() if f is task]:  # type: ignore[comparison-overlap]
                    del futures[key]

        return (yield run, (), {})

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        task = self.command_tasks.pop(msg_id, None)
        if task is not None:
            task.cancel()

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        self.exit_code = 0 if self.shutdown_requested else 1
        self._server.stop_reading()
        return None
        yield  # a generator, like every lsp_method

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if self._server.loader is not None and method is not None and method not in LIFECYCLE:
            # The first message after `initialize` (`initialized`, or a script's first
            # request) loads the services and every handler, then is dispatched as usual.
            self._server.ensure_loaded()
        if method == types.CANCEL_REQUEST and isinstance(message, JsonRPCNotification):
            # pygls reads `params.id`, but params stay plain dicts here (dict_converter).
            params = message.params
            target = params.get("id") if isinstance(params, dict) else None
            if isinstance(target, str | int) and not isinstance(target, bool):
                self._handle_cancel_notification(target)
            return
        if method == types.SHUTDOWN:
            # From here on new requests are refused, while those in flight are answered.
            self.shutdown_requested = True
            self.shutdown_id = getattr(message, "id", None)
        elif (
            self.shutdown_requested
            and isinstance(message, JsonRPCRequestMessage)
            and method != types.SHUTDOWN
        ):
            # LSP: requests after `shutdown` are answered with InvalidRequest.
            self.send_raw_error(message.id, INVALID_REQUEST, "the server is shutting down")
            return
        # Fast path for custom requests and notifications (every dspex/* call): pygls'
        # handle_message tells message kinds apart with isinstance checks against
        # runtime-checkable Protocols, ~25 µs per message. `dispatch` has already checked
        # what pygls checks first (jsonrpc "2.0"); LSP's own messages take pygls' path.
        kind = type(message)
        if kind is JsonRPCRequestMessage and not self._shutdown:
            contextvars.copy_context().run(
                self._handle_request, message.id, message.method, message.params
            )
            return
        # pygls files an async notification handler's future under a fresh uuid in
        # `_request_futures` and never removes it: remove it when it is done.
        futures = self._request_futures
        size = len(futures)
        if kind is JsonRPCNotification and not self._shutdown:
            contextvars.copy_context().run(
                self._handle_notification, message.method, message.params
            )
        else:
            super().handle_message(message)
        if not hasattr(message, "id") and len(futures) > size:
            key = next(reversed(futures))
            futures[key].add_done_callback(lambda _: futures.pop(key, None))

    def _send_data(self, data: Any) -> None:
        # A dspex method's result is already a JSON-ready dict (`to_wire()`): serialise the
        # response directly instead of through cattrs' recursive unstructure (~50 µs per
        # answer). Anything else (LSP results, errors) takes pygls' path.
        if type(data) is JsonRPCResponseMessage and type(data.result) is dict:
            data = {"jsonrpc": data.jsonrpc, "id": data.id, "result": data.result}
        if type(data) is not dict or self.writer is None:
            super()._send_data(data)
            return
        try:
            body = json.dumps(data, separators=(",", ":"), default=self._serialize_message)
        except (TypeError, ValueError) as exc:
            log.error("an answer could not be serialised: %s", type(exc).__name__)
            if "id" in data:
                self.send_raw_error(data["id"], -32603, "internal error")
            return
        raw = body.encode()  # ASCII: json.dumps escapes everything else
        self.writer.write(b"Content-Length: %d\r\n\r\n%b" % (len(raw), raw))

    def send_notification(self, method: str, params: Any) -> None:
        """A notification whose params are already JSON-ready. (pygls' `notify` would try
        to structure `$/progress` params as lsprotocol types and fail on a plain dict.)"""
        self._send_data({"jsonrpc": "2.0", "method": method, "params": params})

    def send_raw_error(self, msg_id: Any, code: int, message: str, data: Any = None) -> None:
        error: dict[str, Any] = {"code": code, "message": message}
        if data is not None:
            error["data"] = data
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": error})


def editor_capabilities(capabilities: types.ServerCapabilities) -> None:
    """Standard LSP features (rpc/editor.py), advertised whether or not their handlers
    are registered yet (they are on loading, after this answer)."""
    capabilities.text_document_sync = types.TextDocumentSyncOptions(
        open_close=True, change=types.TextDocumentSyncKind.Incremental
    )
    capabilities.inline_completion_provider = types.InlineCompletionOptions()


class DspexServer(LanguageServer):
    protocol: DspexProtocol

    def __init__(self) -> None:
        super().__init__(
            "dspex",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=DspexProtocol,
            converter_factory=dict_converter,
        )
        self._reading: asyncio.Future[None] | None = None
        # Methods with a handler registered (rpc/base.py `method`), filled on loading.
        self.methods: list[str] = []
        self.provider_names: list[str] = list(PROVIDER_NAMES)
        self.initialize_params: types.InitializeParams | None = None
        # Cold start: `initialize` is answered from this module alone; the services, the
        # protocol models and the handlers are loaded by `ensure_loaded`, called with the
        # first message after `initialize` (see `DspexProtocol.handle_message`).
        self.loader: Callable[[DspexServer], Services] | None = None
        self.services: Services | None = None
        self._on_initialize_task: asyncio.Future[Any] | None = None
        # Work-done progress in flight: token → what `window/workDoneProgress/cancel` does.
        self.progress_cancel: dict[int | str, Callable[[], None]] = {}

    @property
    def loaded(self) -> bool:
        return self.loader is None

    def ensure_loaded(self) -> None:
        loader, self.loader = self.loader, None
        if loader is None:
            return
        try:
            self.services = loader(self)
            from .reliability.memory import tune_gc

            tune_gc(self.services.config.environ)
        except BaseException:
            self.loader = loader  # the next message tries again
            raise
        # `initialize` was answered before its handlers were registered: they see it now
        # (initializationOptions are applied before the first request is dispatched).
        on_initialize = self.protocol.fm.features.get(types.INITIALIZE)
        if on_initialize is not None and self.initialize_params is not None:
            result = on_initialize(self.initialize_params)
            if asyncio.iscoroutine(result):
                self._on_initialize_task = asyncio.ensure_future(result)

    def advertised_methods(self) -> list[str]:
        """Every method, in the protocol's order: before loading, the protocol's list
        (a test holds it equal to what loading registers)."""
        if not self.loaded:
            return list(METHOD_NAMES)
        order = {name: i for i, name in enumerate(METHOD_NAMES)}
        return sorted(self.methods, key=lambda name: order.get(name, len(order)))

    def capabilities_wire(self) -> dict[str, Any]:
        """`capabilities().to_wire()`, built without pydantic (it is not loaded yet when
        `initialize` is answered); a test holds the two together."""
        return {
            "protocolVersion": PROTOCOL_VERSION,
            "serverVersion": __version__,
            "methods": self.advertised_methods(),
            "providers": list(self.provider_names),
        }

    def capabilities(self) -> DspexCapabilities:
        from dspex_protocol import DspexCapabilities

        return DspexCapabilities(
            protocol_version=PROTOCOL_VERSION,
            server_version=__version__,
            methods=self.advertised_methods(),
            providers=self.provider_names,
        )

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Never a window/showMessage popup, never a traceback to the client. Errors already
        # answered to the client (JsonRpcException) are the client's business, not ours.
        level = logging.DEBUG if isinstance(error, JsonRpcException) else logging.ERROR
        log.log(
            level,
            "server error (%s): %s",
            getattr(source, "__name__", source),
            type(error).__name__,
        )

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for every request in flight but `shutdown` to be answered."""
        skip_id, me = self.protocol.shutdown_id, asyncio.current_task()
        pending = [
            f
            for i, f in self.protocol._request_futures.items()
            if i != skip_id and f is not me and not f.done()  # type: ignore[comparison-overlap]
        ]
        if pending:
            waitables = [
                f if isinstance(f, asyncio.Future) else asyncio.wrap_future(f) for f in pending
            ]
            await asyncio.wait(waitables, timeout=timeout_s)

    def stop_reading(self) -> None:
        if self._reading is not None and not self._reading.done():
            self._reading.set_result(None)

    async def serve_stdio(self) -> int:
        loop = asyncio.get_running_loop()
        frames = FrameReader(self.dispatch, self._frame_error, MAX_BODY_BYTES)
        self._reading = frames.closed
        transport: asyncio.BaseTransport | None = None
        if _is_pipe_or_socket(sys.stdin.buffer):
            transport, _ = await loop.connect_read_pipe(lambda: frames, sys.stdin.buffer)
        else:  # a regular file or a device (/dev/null): read it on a thread of its own
            _feed_from_thread(loop, frames)
        writer = CoalescingWriter(sys.stdout.buffer, loop)
        self.protocol.set_writer(writer)
        await frames.closed  # EOF, or `exit` (stop_reading)
        if transport is not None:
            transport.close()
        # After `exit` or EOF (a script piping requests in), answer what is in flight first.
        await self.drain(timeout_s=EXIT_DRAIN_S)
        writer.flush()
        code = self.protocol.exit_code
        return 0 if code is None else code

    def _frame_error(self, code: int, message: str) -> None:
        self.protocol.send_raw_error(None, code, message)

    def dispatch(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            self.protocol.send_raw_error(None, PARSE_ERROR, "the message body is not valid JSON")
            return
        msg_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(msg_id, str | int) or isinstance(msg_id, bool):
            msg_id = None
        problem = _invalid_request(data)
        if problem is not None:
            self.protocol.send_raw_error(msg_id, INVALID_REQUEST, problem)
            return
        if "method" in data:
            data.setdefault("params", None)
        try:
            message = self.protocol.structure_message(data)
        except Exception:
            if msg_id is not None and "method" in data:
                self.protocol.send_raw_error(msg_id, -32602, f"invalid params for {data['method']}")
            return
        if msg_id is not None and "method" in data and not hasattr(message, "id"):
            # A notification method (`initialized`, `$/progress`, ...) sent with an id:
            # pygls would run it and never answer; a request must get exactly one answer.
            self.protocol.send_raw_error(
                msg_id,
                INVALID_REQUEST,
                f"{data['method']} is a notification: send it without an id",
            )
            return
        try:
            self.protocol.handle_message(message)
        except Exception as exc:
            log.error("failed to handle a message: %s", type(exc).__name__)
            if msg_id is not None and "method" in data:
                self.protocol.send_raw_error(msg_id, -32603, "internal error")


def _invalid_request(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "a message must be a JSON object (batches are not supported)"
    if data.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    has_method = "method" in data
    if has_method and not isinstance(data["method"], str):
        return "method must be a string"
    bad_id = "id" in data and (
        not isinstance(data["id"], str | int) or isinstance(data["id"], bool)
    )
    # `"id": null` is allowed on a response (to an unparsable request), never on a request.
    if bad_id and (data["id"] is not None or has_method):
        return "id must be a string or an integer"
    if has_method and "params" in data and not isinstance(data["params"], dict | list | None):
        return "params must be an object or an array"
    if not has_method and "result" not in data and "error" not in data:
        return "a message needs a method, a result or an error"
    return None


def _is_pipe_or_socket(stream: Any) -> bool:
    """asyncio's pipe transport serves pipes and sockets; a character device such as
    /dev/null is accepted by it but never reports EOF."""
    import os
    import stat

    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _feed_from_thread(loop: asyncio.AbstractEventLoop, frames: FrameReader) -> None:
    import threading

    def pump() -> None:
        while chunk := sys.stdin.buffer.read1(1 << 16):  # type: ignore[union-attr]
            loop.call_soon_threadsafe(frames.data_received, chunk)
        loop.call_soon_threadsafe(frames.eof_received)

    threading.Thread(target=pump, name="dspex-stdin", daemon=True).start()


def _load(server: DspexServer) -> Services:
    from .rpc import load_services

    return load_services(server)


def run() -> int:
    # Until the configuration is read (on loading), the default level and no secrets.
    setup_logging("warning", lambda: ())
    server = DspexServer()
    server.loader = _load

    async def main() -> int:
        try:
            return await server.serve_stdio()
        finally:
            if server.services is not None:
                await server.services.aclose()

    return asyncio.run(main())
