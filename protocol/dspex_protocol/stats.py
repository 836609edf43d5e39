"""`dspex/stats`: request counters per provider, model and session, circuit breaker state,
latency summaries; and the opt-in `dspex/telemetry` notification."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from ._base import WireModel
from .chat import Usage
from .errors import ErrorKind

CircuitStateName = Literal["closed", "open", "half_open"]
RequestState = Literal["idle", "active", "throttled", "circuit_open"]


class CircuitInfo(WireModel):
    """A provider's circuit breaker, as `dspex/providers` and `dspex/stats` report it."""

    state: CircuitStateName = "closed"
    recent_failures: int = Field(default=0, description="failures within the window")
    total_failures: int = Field(default=0, description="failures of a tripping kind, ever")
    times_opened: int = 0
    rejected: int = Field(default=0, description="requests refused with circuit_open")
    retry_in_ms: float | None = Field(
        default=None, description="while open: time until a probe is let through"
    )
    last_failure_kind: ErrorKind | None = None
    throttled: bool = Field(default=False, description="the provider recently answered 429")


class LatencySummary(WireModel):
    """Over the last `window` successful requests (a bounded ring buffer)."""

    count: int = 0
    window: int = 0
    mean: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class RequestStats(WireModel):
    requests_made: int = 0
    requests_successful: int = 0
    requests_failed: int = 0
    requests_cancelled: int = 0
    in_flight: int = 0
    retries: int = Field(default=0, description="attempts beyond the first")
    streams_resumed: int = 0
    last_request_at: datetime | None = None
    last_error_kind: ErrorKind | None = None
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    circuit_failures: int = Field(default=0, description="failures that count for the breaker")
    state: RequestState = "idle"
    latency_ms: LatencySummary = Field(default_factory=LatencySummary)


class ProviderStats(RequestStats):
    provider: str
    circuit: CircuitInfo = Field(default_factory=CircuitInfo)


class ModelStats(RequestStats):
    provider: str
    model: str


class SessionRequestStats(RequestStats):
    session_id: str


class StatsParams(WireModel):
    provider: str | None = None
    model: str | None = None
    session_id: str | None = None


class StatsResult(WireModel):
    totals: RequestStats
    providers: list[ProviderStats]
    models: list[ModelStats]
    sessions: list[SessionRequestStats]


class TelemetryEvent(WireModel):
    """The params of a `dspex/telemetry` notification (sent only with `telemetry: true`).
    Never carries message text or a secret."""

    phase: Literal["start", "stop"]
    operation: str
    correlation_id: str
    provider: str
    model: str
    at: datetime
    duration_ms: float | None = None
    success: bool | None = None
    error_kind: ErrorKind | None = None
    usage: Usage | None = None
    chunks: int = 0
    attempts: int | None = None
    resumed: bool | None = None
    malformed_events: int | None = Field(
        default=None, description="Stream events skipped because they did not parse (stop)."
    )
    streamed: bool = False
    session_id: str | None = None
