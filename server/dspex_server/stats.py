"""Request counters and bounded latency samples per provider, model and session.

Fed by the pipeline's telemetry events; memory is bounded: LATENCY_WINDOW samples per
counter, and at most MAX_SESSIONS sessions (least recently used dropped first).

The samples live in C arrays (`ring.Ring`), not as float objects: the last samples of a
burst would otherwise stay scattered over the memory the burst used and keep CPython from
returning it (measured: RSS after floods of 10,000 requests moved by ~10 MB; see
reliability/memory.py)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dspex_protocol import (
    CircuitInfo,
    ErrorKind,
    LatencySummary,
    ModelStats,
    ProviderStats,
    RequestStats,
    SessionRequestStats,
    StatsParams,
    StatsResult,
)

from .reliability.breaker import BreakerRegistry, CircuitBreaker, CircuitState
from .ring import Ring
from .telemetry import RequestEvent

LATENCY_WINDOW = 100
MAX_SESSIONS = 1000


@dataclass
class Counters:
    requests_made: int = 0
    requests_successful: int = 0
    requests_failed: int = 0
    requests_cancelled: int = 0
    in_flight: int = 0
    retries: int = 0
    streams_resumed: int = 0
    circuit_failures: int = 0
    last_request_at: float | None = None
    last_error_kind: ErrorKind | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    latencies_ms: Ring = field(default_factory=lambda: Ring(LATENCY_WINDOW))

    def started(self) -> None:
        self.requests_made += 1
        self.in_flight += 1
        self.last_request_at = time.time()

    def finished(self, attempts: int, resumed: bool) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.retries += max(0, attempts - 1)
        self.streams_resumed += int(resumed)

    def succeeded(self, latency_ms: float) -> None:
        self.requests_successful += 1
        self.latencies_ms.append(latency_ms)

    def failed(self, kind: ErrorKind, trips: bool = False) -> None:
        if kind is ErrorKind.CANCELLED:
            self.requests_cancelled += 1
            return
        self.requests_failed += 1
        self.circuit_failures += int(trips)
        self.last_error_kind = kind
        self.errors_by_kind[kind.value] = self.errors_by_kind.get(kind.value, 0) + 1

    def wire(self, state: str) -> dict[str, object]:
        return {
            "requests_made": self.requests_made,
            "requests_successful": self.requests_successful,
            "requests_failed": self.requests_failed,
            "requests_cancelled": self.requests_cancelled,
            "in_flight": self.in_flight,
            "retries": self.retries,
            "streams_resumed": self.streams_resumed,
            "circuit_failures": self.circuit_failures,
            "last_request_at": None
            if self.last_request_at is None
            else datetime.fromtimestamp(self.last_request_at, UTC),
            "last_error_kind": self.last_error_kind,
            "errors_by_kind": dict(self.errors_by_kind),
            "state": state,
            "latency_ms": summarise(self.latencies_ms),
        }


def summarise(samples: Ring) -> LatencySummary:
    """Mean, extremes and nearest-rank percentiles; stdlib only (the window is small)."""
    if not samples:
        return LatencySummary(window=samples.size)
    ordered = sorted(samples)
    n = len(ordered)

    def pct(q: float) -> float:
        return round(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))], 3)

    return LatencySummary(
        count=n,
        window=samples.size,
        mean=round(sum(ordered) / n, 3),
        min=round(ordered[0], 3),
        max=round(ordered[-1], 3),
        p50=pct(0.50),
        p95=pct(0.95),
        p99=pct(0.99),
    )


def circuit_info(breaker: CircuitBreaker | None) -> CircuitInfo:
    if breaker is None:
        return CircuitInfo()
    retry_in = breaker.retry_in_ms()
    return CircuitInfo(
        state=breaker.state.value,
        recent_failures=breaker.recent_failures(),
        total_failures=breaker.total_failures,
        times_opened=breaker.times_opened,
        rejected=breaker.rejected,
        retry_in_ms=None if retry_in is None else round(retry_in, 1),
        last_failure_kind=breaker.last_failure_kind,
        throttled=breaker.throttled,
    )


class Stats:
    """Counters for each provider, each (provider, model) and each session."""

    def __init__(
        self,
        breakers: BreakerRegistry | None = None,
        trips: Callable[[str, ErrorKind], bool] | None = None,
    ) -> None:
        self.breakers = breakers
        self._trips = trips
        self.totals = Counters()
        self.providers: dict[str, Counters] = {}
        self.models: dict[tuple[str, str], Counters] = {}
        self.sessions: OrderedDict[str, Counters] = OrderedDict()

    def _counters(self, event: RequestEvent) -> list[Counters]:
        p = self.providers.get(event.provider)
        if p is None:
            p = self.providers[event.provider] = Counters()
        key = (event.provider, event.model)
        m = self.models.get(key)
        if m is None:
            m = self.models[key] = Counters()
        out = [self.totals, p, m]
        if event.session_id:
            s = self.sessions.get(event.session_id)
            if s is None:
                s = self.sessions[event.session_id] = Counters()
                while len(self.sessions) > MAX_SESSIONS:
                    self.sessions.popitem(last=False)
            else:
                self.sessions.move_to_end(event.session_id)
            out.append(s)
        return out

    def on_event(self, event: RequestEvent) -> None:
        """Fed by the pipeline's telemetry (chat requests only)."""
        if event.operation != "chat":
            return
        counters = self._counters(event)
        if event.phase == "start":
            for c in counters:
                c.started()
            return
        kind = event.error_kind or ErrorKind.INTERNAL_ERROR
        trips = not event.success and self._trips is not None and self._trips(event.provider, kind)
        for c in counters:
            c.finished(event.attempts, event.resumed)
            if event.success:
                c.succeeded(event.duration_ms or 0.0)
            else:
                c.failed(kind, trips)

    # -- reading ---------------------------------------------------------------------

    def _breaker(self, provider: str) -> CircuitBreaker | None:
        return self.breakers.peek(provider) if self.breakers is not None else None

    def _state(self, counters: Counters, provider: str | None) -> str:
        breaker = self._breaker(provider) if provider else None
        if breaker is not None and breaker.state is not CircuitState.CLOSED:
            return "circuit_open"
        if breaker is not None and breaker.throttled:
            return "throttled"
        return "active" if counters.in_flight > 0 else "idle"

    def snapshot(self, params: StatsParams | None = None) -> StatsResult:
        params = params or StatsParams()
        providers = [
            ProviderStats(
                provider=name,
                circuit=circuit_info(self._breaker(name)),
                **c.wire(self._state(c, name)),
            )
            for name, c in sorted(self.providers.items())
            if params.provider in (None, name)
        ]
        models = [
            ModelStats(provider=p, model=m, **c.wire(self._state(c, p)))
            for (p, m), c in sorted(self.models.items())
            if params.provider in (None, p) and params.model in (None, m)
        ]
        sessions = [
            SessionRequestStats(session_id=sid, **c.wire(self._state(c, None)))
            for sid, c in self.sessions.items()
            if params.session_id in (None, sid)
        ]
        totals = RequestStats(**self.totals.wire(self._state(self.totals, None)))
        return StatsResult(totals=totals, providers=providers, models=models, sessions=sessions)
