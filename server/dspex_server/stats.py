"""Request counters and bounded latency samples per provider and model."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from dspex_protocol import ErrorKind

from .telemetry import RequestEvent

LATENCY_WINDOW = 100


@dataclass
class Counters:
    requests_made: int = 0
    requests_successful: int = 0
    requests_failed: int = 0
    requests_cancelled: int = 0
    in_flight: int = 0
    last_request_at: float | None = None
    last_error_kind: ErrorKind | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def started(self) -> None:
        self.requests_made += 1
        self.in_flight += 1
        self.last_request_at = time.time()

    def succeeded(self, latency_ms: float) -> None:
        self.in_flight -= 1
        self.requests_successful += 1
        self.latencies_ms.append(latency_ms)

    def failed(self, kind: ErrorKind) -> None:
        self.in_flight -= 1
        if kind is ErrorKind.CANCELLED:
            self.requests_cancelled += 1
            return
        self.requests_failed += 1
        self.last_error_kind = kind
        self.errors_by_kind[kind.value] = self.errors_by_kind.get(kind.value, 0) + 1


class Stats:
    """Counters for each provider and each (provider, model). Memory is bounded by the
    number of providers × models seen × LATENCY_WINDOW."""

    def __init__(self) -> None:
        self.providers: dict[str, Counters] = {}
        self.models: dict[tuple[str, str], Counters] = {}

    def _pair(self, provider: str, model: str) -> tuple[Counters, Counters]:
        p = self.providers.get(provider)
        if p is None:
            p = self.providers[provider] = Counters()
        m = self.models.get((provider, model))
        if m is None:
            m = self.models[(provider, model)] = Counters()
        return p, m

    def started(self, provider: str, model: str) -> None:
        for c in self._pair(provider, model):
            c.started()

    def succeeded(self, provider: str, model: str, latency_ms: float) -> None:
        for c in self._pair(provider, model):
            c.succeeded(latency_ms)

    def failed(self, provider: str, model: str, kind: ErrorKind) -> None:
        for c in self._pair(provider, model):
            c.failed(kind)

    def on_event(self, event: RequestEvent) -> None:
        """Fed by the pipeline's telemetry (chat requests only)."""
        if event.operation != "chat":
            return
        if event.phase == "start":
            self.started(event.provider, event.model)
        elif event.success:
            self.succeeded(event.provider, event.model, event.duration_ms or 0.0)
        else:
            self.failed(event.provider, event.model, event.error_kind or ErrorKind.INTERNAL_ERROR)
