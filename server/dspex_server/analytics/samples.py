"""Fixed-size sample windows per provider and per provider/model, and bounded long-term
aggregates per provider, fed by the pipeline's telemetry. Memory is O(keys × window).

Pure Python (array('d') rings): the store is fed on the event loop for every request and
must stay cheap and free of NumPy. Analyses take snapshots and run in the executor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from dspex_protocol import ErrorKind

from ..ring import Ring
from ..telemetry import RequestEvent

RECENT = 10  # latencies held back from the baseline: the "now" that drift compares
EWMA_ALPHA = 0.3  # weight of the newest latency; 0.7**10 ≈ 3% left of a level 10 requests ago


@dataclass
class Welford:
    """Running count, mean and variance in O(1) memory."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 0.0


class Window:
    """Recent requests of one provider or provider/model."""

    def __init__(self, size: int) -> None:
        self.latency_ms = Ring(size)  # successful requests only: failures end early
        self.tokens_per_s = Ring(size)
        self.success = Ring(size)  # 1.0 / 0.0 per finished (not cancelled) request
        self.cost = Ring(size)
        self.successes = 0  # ones in `success`, kept as it changes: read on every request

    def add_outcome(self, ok: bool) -> None:
        evicted = self.success.append(1.0 if ok else 0.0)
        self.successes += int(ok) - int(evicted or 0)

    @property
    def size(self) -> int:
        return self.success.size

    def resize(self, size: int) -> None:
        for name in ("latency_ms", "tokens_per_s", "success", "cost"):
            setattr(self, name, getattr(self, name).resized(size))
        self.successes = round(self.success.total())

    def snapshot(self) -> WindowSnapshot:
        flags = self.success.values()
        return WindowSnapshot(
            latency_ms=self.latency_ms.values(),
            tokens_per_s=self.tokens_per_s.values(),
            costs=self.cost.values(),
            requests=len(flags),
            successes=int(sum(flags)),
        )


@dataclass
class WindowSnapshot:
    latency_ms: list[float]
    tokens_per_s: list[float]
    costs: list[float]
    requests: int
    successes: int


@dataclass
class ProviderAggregate:
    """Long-term view of one provider, O(1) memory: totals, a Welford baseline of every
    latency older than the last RECENT, and an EWMA of the latest latencies."""

    requests: int = 0
    failures: int = 0
    baseline: Welford = field(default_factory=Welford)
    recent: Ring = field(default_factory=lambda: Ring(RECENT))
    ewma_ms: float | None = None
    last_at: float | None = None

    def add_latency(self, latency_ms: float) -> None:
        evicted = self.recent.append(latency_ms)
        if evicted is not None:
            self.baseline.add(evicted)
        self.ewma_ms = (
            latency_ms
            if self.ewma_ms is None
            else EWMA_ALPHA * latency_ms + (1.0 - EWMA_ALPHA) * self.ewma_ms
        )


Listener = Callable[[str, RequestEvent], None]


class SampleStore:
    def __init__(self, window_size: Callable[[], int]) -> None:
        self._window_size = window_size
        self.windows: dict[tuple[str, str | None], Window] = {}
        self.aggregates: dict[str, ProviderAggregate] = {}
        self.listeners: list[Listener] = []

    def _window(self, provider: str, model: str | None) -> Window:
        size = self._window_size()
        window = self.windows.get((provider, model))
        if window is None:
            window = self.windows[(provider, model)] = Window(size)
        elif window.size != size:
            window.resize(size)
        return window

    def on_event(self, event: RequestEvent) -> None:
        """Subscriber of the telemetry bus: finished chat requests only; a cancelled request
        says nothing about the provider."""
        if event.operation != "chat" or event.phase != "stop":
            return
        if event.error_kind is ErrorKind.CANCELLED:
            return
        agg = self.aggregates.get(event.provider)
        if agg is None:
            agg = self.aggregates[event.provider] = ProviderAggregate()
        agg.requests += 1
        agg.last_at = event.at
        ok = bool(event.success)
        latency = event.duration_ms
        tps = None
        usage = event.usage
        if ok and latency is not None and latency > 0 and usage and usage.completion_tokens > 0:
            tps = usage.completion_tokens / (latency / 1000.0)
        cost = event.cost_usd  # priced by the pipeline's accounting (None: unknown price)
        if not ok:
            agg.failures += 1
        elif latency is not None:
            agg.add_latency(latency)
        for window in (
            self._window(event.provider, None),
            self._window(event.provider, event.model),
        ):
            window.add_outcome(ok)
            if ok and latency is not None:
                window.latency_ms.append(latency)
            if tps is not None:
                window.tokens_per_s.append(tps)
            if isinstance(cost, int | float) and math.isfinite(cost):
                window.cost.append(float(cost))
        for listener in self.listeners:
            listener(event.provider, event)

    def snapshot(self, provider: str, model: str | None = None) -> WindowSnapshot | None:
        window = self.windows.get((provider, model))
        return window.snapshot() if window is not None else None

    def counts(self, provider: str) -> tuple[int, int]:
        """(requests, successes) in the provider's window: cheap, for every request."""
        window = self.windows.get((provider, None))
        if window is None:
            return 0, 0
        return len(window.success), window.successes

    def models(self, provider: str) -> list[str]:
        return sorted(m for p, m in self.windows if p == provider and m is not None)
