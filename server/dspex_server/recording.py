"""Every exchange (request and its answer or error) handed to the history log before the
client is answered, so that an acknowledged exchange is never lost (see store/)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from dspex_protocol import ChatParams, EmbedParams, ErrorKind

from .errors import DspexError
from .telemetry import Exchange, ExchangeSink, Operation, new_correlation_id

log = logging.getLogger(__name__)

P = TypeVar("P", ChatParams, EmbedParams)
R = TypeVar("R")


def with_correlation_id(params: P) -> P:
    if params.correlation_id:
        return params
    return params.model_copy(update={"correlation_id": new_correlation_id()})


async def _record(sink: ExchangeSink, exchange: Exchange) -> None:
    """Log the exchange; a cancelled request is logged without waiting for the commit
    (its task is being cancelled), and a failing log never fails the request."""
    if exchange.error_kind is ErrorKind.CANCELLED:
        asyncio.get_running_loop().create_task(_quietly(sink, exchange))
        return
    await _quietly(sink, exchange)


async def _quietly(sink: ExchangeSink, exchange: Exchange) -> None:
    try:
        await sink(exchange)
    except Exception as exc:
        log.error("the exchange was not logged: %s", type(exc).__name__)


async def recorded(sink: ExchangeSink, operation: Operation, params: Any, work: Awaitable[R]) -> R:
    """Run `work`; hand its exchange (success or error) to the log before answering."""
    at, started = time.time(), time.perf_counter()
    exchange = Exchange(operation, params.correlation_id, at, 0.0, params)
    try:
        result = await work
    except DspexError as exc:
        exchange.error_kind, exchange.error_message = exc.kind, exc.message
        exchange.provider, exchange.model = exc.provider, exc.model
        raise
    except asyncio.CancelledError:
        exchange.error_kind = ErrorKind.CANCELLED
        exchange.error_message = "cancelled by the client"
        raise
    except Exception as exc:
        exchange.error_kind = ErrorKind.INTERNAL_ERROR
        exchange.error_message = f"internal error ({type(exc).__name__})"
        raise
    else:
        exchange.result = result
        exchange.provider = getattr(result, "provider", None)
        exchange.model = getattr(result, "model", None)
        return result
    finally:
        exchange.latency_ms = (time.perf_counter() - started) * 1000
        await _record(sink, exchange)
