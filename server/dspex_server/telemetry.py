"""Request events: the pipeline publishes them; stats, analytics and the opt-in
`dspex/telemetry` notifications subscribe. Subscribers must be cheap and never raise."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from dspex_protocol import ErrorKind, Usage

log = logging.getLogger(__name__)

Phase = Literal["start", "stop"]
Operation = Literal["chat", "embed"]


_ids = random.Random()  # seeded from os.urandom once


def new_correlation_id() -> str:
    """32 random hex digits (uuid4's length). Not `uuid4()`: its `os.urandom` system call
    per request releases the GIL, which the store's writer thread then holds (bench/)."""
    return f"{_ids.getrandbits(128):032x}"


@dataclass
class RequestEvent:
    phase: Phase
    operation: Operation
    correlation_id: str
    provider: str
    model: str
    at: float = field(default_factory=time.time)
    duration_ms: float | None = None
    success: bool | None = None
    error_kind: ErrorKind | None = None
    usage: Usage | None = None
    chunks: int = 0
    session_id: str | None = None
    streamed: bool = False
    attempts: int = 1
    resumed: bool = False
    cost_usd: float | None = None
    malformed_events: int = 0  # stream events skipped because they did not parse


Subscriber = Callable[[RequestEvent], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def publish(self, event: RequestEvent) -> None:
        for fn in self._subscribers:
            try:
                fn(event)
            except Exception as exc:  # a broken subscriber must not fail the request
                log.error("telemetry subscriber failed: %s", type(exc).__name__)


@dataclass
class Exchange:
    """One finished request with its content, for the durable log (the store). Unlike
    RequestEvent it carries the messages and the answer; it never carries a key."""

    operation: Operation
    correlation_id: str
    started_at: float
    latency_ms: float
    params: Any  # ChatParams / EmbedParams
    result: Any = None  # ChatResult / EmbedResult on success
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    provider: str | None = None
    model: str | None = None


ExchangeSink = Callable[[Exchange], Awaitable[None]]
