"""How a handler is registered: validate params, call the service, map every failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from pydantic import ValidationError
from pygls.exceptions import JsonRpcException

from dspex_protocol import ERROR_CODES, ErrorData, ErrorKind
from dspex_protocol import methods as m

from .. import after_answer
from ..app import DspexServer
from ..errors import DspexError, InvalidParams
from ..partials import ChunkSink, CoalescingSink
from ..providers.http_stream import before_network_wait

log = logging.getLogger("dspex.rpc")


def parse_params(spec: m.MethodSpec, raw: Any) -> Any:
    if raw is None or raw == []:
        # No params; Neovim encodes an empty Lua table (`{}`) as an empty array.
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidParams(
            f"{spec.name}: params must be an object",
            data={
                "method": spec.name,
                "errors": [{"loc": [], "msg": "params must be an object", "type": "type_error"}],
            },
        )
    try:
        return spec.params.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(params)" for e in errors)
        raise InvalidParams(
            f"{spec.name}: invalid params: {fields}", data={"method": spec.name, "errors": errors}
        ) from None


def internal_error(exc: BaseException) -> JsonRpcException:
    # The exception's text may quote a secret or a provider body: only its type is told.
    log.error("internal error: %s", type(exc).__name__)
    data = ErrorData(
        kind=ErrorKind.INTERNAL_ERROR, message=f"internal error ({type(exc).__name__})"
    )
    return JsonRpcException(
        message=data.message, code=ERROR_CODES[ErrorKind.INTERNAL_ERROR], data=data.to_wire()
    )


Handler = Callable[[Any], Awaitable[Any]]


def method(server: DspexServer, spec: m.MethodSpec) -> Callable[[Handler], Handler]:
    """Register `fn(params_model) -> WireModel` as the handler of `spec`."""

    def decorator(fn: Handler) -> Handler:
        async def handler(raw: Any) -> Any:
            params = parse_params(spec, raw)
            # Bookkeeping the answer does not depend on runs once it is written.
            deferred, token = after_answer.collect()
            try:
                result = await fn(params)
            except DspexError as exc:
                raise exc.to_jsonrpc() from None
            except (asyncio.CancelledError, JsonRpcException):
                raise
            except Exception as exc:
                raise internal_error(exc) from None
            finally:
                after_answer.stop(token)
                if deferred:
                    server.protocol.after_answer(deferred)
            return result.to_wire()

        server.feature(spec.name)(handler)
        server.methods.append(spec.name)
        return fn

    return decorator


@contextlib.contextmanager
def partial_results(server: DspexServer, token: int | str | None) -> Iterator[ChunkSink | None]:
    """LSP partial results for the block: chunks as `$/progress` on the request's token,
    those of one event-loop iteration merged into one (partials.py); what is pending is
    sent when the block ends, before the answer. None: the request does not stream."""
    if token is None:
        yield None
        return
    protocol = server.protocol

    def send(value: dict[str, Any]) -> None:
        protocol.send_notification("$/progress", {"token": token, "value": value})

    # Sent now when nothing else waits to run (a lone stream's chunk leaves at once, ahead
    # of the work that follows it in the same task step); under load, with the pass's
    # other output in one write.
    flush = getattr(protocol.writer, "flush_if_idle", None)
    sink = CoalescingSink(send, flush if callable(flush) else _nothing)
    # The stream reader sends what is collected as it goes to wait for more: the deltas of
    # one network read leave together, without waiting for the next loop pass.
    waiting = before_network_wait.set(sink.flush)
    try:
        yield sink
    finally:
        before_network_wait.reset(waiting)
        sink.flush()


def _nothing() -> None:
    return None
