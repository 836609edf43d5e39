"""Provider health, anomaly detection and the auto-switch routing hook.

Per provider, after every finished request (O(1), on the event loop):
- error rate over the recent window;
- latency drift: the EWMA of the latest latencies against the long-term baseline (Welford
  over latencies older than the last RECENT), as a relative drift `ewma/mean − 1` and a
  z-score `(ewma − mean)/std`;
- the circuit breakers' state (`breaker_state`: the worst of the provider's models, wired
  to the pipeline's breakers by services).

A latency anomaly needs both: drift above `anomalyThreshold` (0.4: 40 % slower) and z > 3
(beyond the provider's normal scatter), with at least `minSamples` baseline latencies. An
error-rate anomaly: more than `anomalyThreshold` of the recent window failed (at least 5
requests). An open breaker is an anomaly by itself. Anomalies are recorded when they
begin, with the time of the request that raised them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from dspex_protocol import ChatParams

from ..providers.table import FALLBACK_PROVIDER, PROVIDER_BY_NAME, PROVIDERS
from ..telemetry import RequestEvent
from .samples import ProviderAggregate, SampleStore

if TYPE_CHECKING:
    from ..config import AnalyticsSettings, ConfigStore

Cause = Literal["latency_drift", "error_rate", "circuit_open"]
Status = Literal["healthy", "degraded", "unhealthy", "unknown"]

Z_LIMIT = 3.0
MIN_ERROR_WINDOW = 5
MAX_ANOMALIES = 50
DEGRADED_BELOW = 0.9
# With auto-switch on, an unhealthy provider gets no traffic and so could never show that
# it recovered: every PROBE_EVERY-th request for it is let through as a probe.
PROBE_EVERY = 10


@dataclass
class AnomalyRecord:
    at: float
    cause: Cause
    message: str
    value: float


@dataclass
class Assessment:
    provider: str
    configured: bool
    status: Status
    score: float
    requests: int
    error_rate: float | None = None
    latency_ewma_ms: float | None = None
    baseline_mean_ms: float | None = None
    baseline_std_ms: float | None = None
    baseline_samples: int = 0
    z_score: float | None = None
    drift: float | None = None
    breaker: str | None = None
    active: list[Cause] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)


def assess(
    provider: str,
    agg: ProviderAggregate | None,
    window_requests: int,
    window_successes: int,
    settings: AnalyticsSettings,
    breaker: str | None,
    configured: bool = True,
) -> Assessment:
    """The health of one provider from its aggregates (pure function, no side effects)."""
    out = Assessment(provider, configured, "unknown", 1.0, 0, breaker=breaker)
    threshold = settings.anomaly_threshold
    breaker_factor = {"open": 0.0, "half_open": 0.5}.get(breaker or "", 1.0)
    if breaker == "open":
        out.active.append("circuit_open")
        out.messages["circuit_open"] = "circuit breaker is open"
    if agg is None or agg.requests == 0:
        out.score = breaker_factor
        out.status = "unhealthy" if out.active else "unknown"
        return out
    out.requests = agg.requests
    error_rate = 0.0
    if window_requests:
        error_rate = 1.0 - window_successes / window_requests
        out.error_rate = error_rate
        if window_requests >= MIN_ERROR_WINDOW and error_rate > threshold:
            out.active.append("error_rate")
            out.messages["error_rate"] = (
                f"{error_rate:.0%} of the last {window_requests} requests failed "
                f"(anomalyThreshold {threshold:.0%})"
            )
    base = agg.baseline
    out.latency_ewma_ms = agg.ewma_ms
    out.baseline_samples = base.count
    drift = 0.0
    if base.count >= 2:
        out.baseline_mean_ms, out.baseline_std_ms = base.mean, base.std
    if agg.ewma_ms is not None and base.count >= settings.min_samples and base.mean > 0:
        drift = agg.ewma_ms / base.mean - 1.0
        # A floor on the spread: a provider that always answers in exactly 5.0 ms must not
        # raise an anomaly at 5.1 ms.
        spread = max(base.std, 0.01 * base.mean)
        z = (agg.ewma_ms - base.mean) / spread
        out.drift, out.z_score = drift, z
        if drift > threshold and z > Z_LIMIT:
            out.active.append("latency_drift")
            out.messages["latency_drift"] = (
                f"latency drift: EWMA {agg.ewma_ms:.1f} ms vs baseline "
                f"{base.mean:.1f} ± {base.std:.1f} ms (+{drift:.0%}, z = {z:.1f})"
            )
    out.score = (1.0 - error_rate) / (1.0 + max(0.0, drift)) * breaker_factor
    if out.active:
        out.status = "unhealthy"
    elif out.score < DEGRADED_BELOW:
        out.status = "degraded"
    else:
        out.status = "healthy"
    return out


BreakerState = Callable[[str], str | None]


class HealthMonitor:
    def __init__(self, config: ConfigStore, store: SampleStore) -> None:
        self.config = config
        self.store = store
        # Wired by services to the pipeline's breakers: the provider's worst model state,
        # and each model's state (shown in `dspex/analytics/health` as `breakers`).
        self.breaker_state: BreakerState = lambda _provider: None
        self.breaker_models: Callable[[str], dict[str, str]] = lambda _provider: {}
        self.anomalies: dict[str, deque[AnomalyRecord]] = {}
        self._active: dict[str, set[Cause]] = {}
        self._switched: dict[str, int] = {}
        store.listeners.append(self.on_request)

    def assess(self, provider: str) -> Assessment:
        requests, successes = self.store.counts(provider)
        return assess(
            provider,
            self.store.aggregates.get(provider),
            requests,
            successes,
            self.config.settings.analytics,
            self.breaker_state(provider),
            self.config.configured(provider),
        )

    def on_request(self, provider: str, event: RequestEvent) -> None:
        """After each finished request: record anomalies that have just begun."""
        result = self.assess(provider)
        before: set[Cause] = self._active.get(provider, set())
        now = set(result.active)
        for cause in result.active:
            if cause in before:
                continue
            value = {
                "latency_drift": result.drift,
                "error_rate": result.error_rate,
                "circuit_open": 1.0,
            }[cause]
            log = self.anomalies.setdefault(provider, deque(maxlen=MAX_ANOMALIES))
            log.append(AnomalyRecord(event.at, cause, result.messages[cause], float(value or 0.0)))
        self._active[provider] = now

    def providers(self) -> list[str]:
        """Configured providers, then any others that have data, in table order."""
        seen = set(self.store.aggregates)
        return [s.name for s in PROVIDERS if self.config.configured(s.name) or s.name in seen]

    # -- auto-switch -------------------------------------------------------------------

    def route(self, params: ChatParams, provider: str, model: str) -> tuple[str, str, str] | None:
        """The pipeline's routing hook: with `autoSwitch` on and `provider` unhealthy, the
        healthiest other configured provider that can serve the request, its model and a
        notice; None to keep the request where it is. The built-in mock is never a target
        for a real provider's traffic."""
        if not self.config.settings.analytics.auto_switch:
            return None
        current = self.assess(provider)
        if current.status != "unhealthy":
            self._switched.pop(provider, None)
            return None
        switched = self._switched.get(provider, 0) + 1
        self._switched[provider] = switched
        if switched % PROBE_EVERY == 0:
            return None
        needs = {"chat"}
        if params.tools:
            needs.add("tools")
        if params.response_format is not None:
            needs.add("json_mode")
        best: tuple[float, int, str] | None = None
        upstream = _upstream(provider)
        for spec in PROVIDERS:
            name = spec.name
            if name == FALLBACK_PROVIDER or not self.config.configured(name):
                continue
            if _upstream(name) == upstream:  # another API of the same service is no way out
                continue
            if not needs <= spec.capabilities:
                continue
            candidate = self.assess(name)
            if candidate.status == "unhealthy":
                continue
            rank = (candidate.score, candidate.requests, name)
            if best is None or rank[:2] > best[:2]:
                best = rank
        why = "; ".join(current.messages.values())
        if best is None:
            return None
        target = best[2]
        settings = self.config.settings.provider(target)
        target_model = settings.default_model or next(
            (s.default_model for s in PROVIDERS if s.name == target), None
        )
        if not target_model:
            return None
        notice = (
            f"auto-switch: provider {provider!r} is unhealthy ({why}); routed to "
            f"{target!r} model {target_model!r} (health score {best[0]:.2f})"
        )
        return target, target_model, notice


def _upstream(provider: str) -> str:
    """The service a provider row reaches: `openai-responses` is openai's."""
    spec = PROVIDER_BY_NAME.get(provider)
    return spec.api_of or spec.name if spec is not None else provider
