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

from .after_answer import after_answer as deferred

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
    """Subscribers run in order of subscription. Observers (statistics, analytics windows
    and health, the idle-memory timer) subscribe `after_answer`: a stop event reaches them
    once the request's answer has been written (after_answer.py), off its critical path.
    The others (the client's `dspex/telemetry` notification, budget reservations) see
    every event at once."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._observers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber, *, after_answer: bool = False) -> None:
        (self._observers if after_answer else self._subscribers).append(fn)

    def publish(self, event: RequestEvent) -> None:
        _deliver(self._subscribers, event)
        if self._observers:
            if event.phase == "stop":
                deferred(lambda: _deliver(self._observers, event))
            else:
                _deliver(self._observers, event)


def _deliver(subscribers: list[Subscriber], event: RequestEvent) -> None:
    for fn in subscribers:
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
