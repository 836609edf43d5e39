"""Sample store, health assessment, anomaly detection and auto-switch routing, in-process
(the daemon-level latency shift is in test_analytics_autoswitch.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dspex_protocol import ChatParams, ErrorKind, Usage
from dspex_server.analytics.health import PROBE_EVERY, HealthMonitor, assess
from dspex_server.analytics.samples import RECENT, ProviderAggregate, Ring, SampleStore, Welford
from dspex_server.config import AnalyticsSettings, ConfigStore
from dspex_server.telemetry import RequestEvent

CHAT = ChatParams.model_validate({"messages": [{"role": "user", "content": "hi"}]})


def stop_event(
    provider: str, ms: float, ok: bool = True, at: float = 0.0, model: str = "m"
) -> RequestEvent:
    return RequestEvent(
        "stop",
        "chat",
        "cid",
        provider,
        model,
        at=at,
        duration_ms=ms,
        success=ok,
        error_kind=None if ok else ErrorKind.API_ERROR,
        usage=Usage(prompt_tokens=3, completion_tokens=10, total_tokens=13) if ok else None,
    )


def test_ring_keeps_the_last_values_in_order() -> None:
    ring = Ring(3)
    assert [ring.append(v) for v in (1.0, 2.0, 3.0, 4.0, 5.0)] == [None, None, None, 1.0, 2.0]
    assert ring.values() == [3.0, 4.0, 5.0] and len(ring) == 3
    assert ring.resized(2).values() == [4.0, 5.0]
    assert ring.resized(5).values() == [3.0, 4.0, 5.0]


def test_welford_matches_numpy() -> None:
    x = np.random.default_rng(3).normal(20.0, 4.0, 500)
    w = Welford()
    for v in x:
        w.add(float(v))
    assert (w.count, w.mean, w.std) == (500, pytest.approx(x.mean()), pytest.approx(x.std(ddof=1)))


def test_store_windows_are_bounded_and_split_by_model() -> None:
    store = SampleStore(lambda: 5)
    for i in range(12):
        store.on_event(stop_event("p", float(i), model="a" if i % 2 else "b"))
    store.on_event(stop_event("p", 99.0, ok=False))
    store.on_event(RequestEvent("stop", "chat", "c", "p", "m", error_kind=ErrorKind.CANCELLED))
    whole = store.snapshot("p")
    assert whole is not None
    assert whole.latency_ms == [7.0, 8.0, 9.0, 10.0, 11.0]  # a failure has no latency
    assert (whole.requests, whole.successes) == (5, 4)
    assert whole.tokens_per_s[-1] == pytest.approx(10 / 0.011)
    a = store.snapshot("p", "a")
    assert a is not None and a.latency_ms == [3.0, 5.0, 7.0, 9.0, 11.0]
    agg = store.aggregates["p"]
    assert (agg.requests, agg.failures) == (13, 1)  # the cancelled request is not counted
    assert agg.baseline.count == 12 - RECENT


def test_window_follows_a_new_window_size() -> None:
    size = [5]
    store = SampleStore(lambda: size[0])
    for i in range(5):
        store.on_event(stop_event("p", float(i)))
    size[0] = 3
    store.on_event(stop_event("p", 5.0))
    snap = store.snapshot("p")
    assert snap is not None and snap.latency_ms == [3.0, 4.0, 5.0]


def baseline(n: int, ms: float = 10.0) -> ProviderAggregate:
    agg = ProviderAggregate()
    rng = np.random.default_rng(1)
    for v in rng.normal(ms, 0.5, n):
        agg.requests += 1
        agg.add_latency(float(v))
    return agg


def test_a_latency_shift_is_an_anomaly_with_its_cause() -> None:
    agg = baseline(40)
    settings = AnalyticsSettings(min_samples=20)
    assert assess("p", agg, 40, 40, settings, None).status == "healthy"
    for _ in range(3):
        agg.requests += 1
        agg.add_latency(30.0)
    result = assess("p", agg, 43, 43, settings, None)
    assert result.status == "unhealthy" and result.active == ["latency_drift"]
    assert result.drift is not None and result.drift > 0.4
    assert result.z_score is not None and result.z_score > 3
    assert "latency drift" in result.messages["latency_drift"]
    assert result.score == pytest.approx(1 / (1 + result.drift))


def test_a_small_drift_is_not_an_anomaly() -> None:
    agg = baseline(40)
    agg.add_latency(12.0)  # +20 %: beyond the noise, below anomalyThreshold 0.4
    result = assess("p", agg, 40, 40, AnalyticsSettings(min_samples=20), None)
    assert result.active == [] and result.status in ("healthy", "degraded")


def test_no_drift_verdict_below_min_samples() -> None:
    agg = baseline(15)
    agg.add_latency(100.0)
    result = assess("p", agg, 16, 16, AnalyticsSettings(min_samples=20), None)
    assert result.drift is None and result.active == []


def test_error_rate_and_open_breaker_are_anomalies() -> None:
    agg = baseline(5)
    settings = AnalyticsSettings()
    errors = assess("p", agg, 10, 5, settings, None)
    assert errors.active == ["error_rate"] and errors.error_rate == 0.5
    assert errors.score == pytest.approx(0.5)
    breaker = assess("p", agg, 10, 10, settings, "open")
    assert breaker.active == ["circuit_open"] and breaker.score == 0.0
    assert assess("p", None, 0, 0, settings, None).status == "unknown"


def monitor(options: dict[str, object]) -> HealthMonitor:
    config = ConfigStore({"OPENAI_API_KEY": "sk-test", "DSPEX_CONFIG": "/dev/null"})
    config.set_layer("initializationOptions", options)
    return HealthMonitor(config, SampleStore(lambda: 100))


def test_monitor_records_when_an_anomaly_begins() -> None:
    mon = monitor({"analytics": {"minSamples": 10}})
    for i in range(30):
        mon.store.on_event(stop_event("mock", 10.0 + (i % 3) * 0.1, at=1000.0 + i))
    for i in range(3):
        mon.store.on_event(stop_event("mock", 50.0, at=2000.0 + i))
    (anomaly,) = mon.anomalies["mock"]
    assert anomaly.cause == "latency_drift" and anomaly.at == 2000.0 and anomaly.value > 0.4


def test_route_switches_an_unhealthy_provider_to_a_healthy_one_only_when_on() -> None:
    mon = monitor({"analytics": {"minSamples": 10, "autoSwitch": True}})
    for _ in range(30):
        mon.store.on_event(stop_event("mock", 10.0))
    assert mon.route(CHAT, "mock", "mock-1") is None  # healthy: stays
    for _ in range(3):
        mon.store.on_event(stop_event("mock", 60.0))
    routed = mon.route(CHAT, "mock", "mock-1")
    assert routed is not None
    provider, model, notice = routed
    assert (provider, model) == ("openai", "gpt-4o-mini")
    assert "auto-switch" in notice and "'mock' is unhealthy" in notice
    off = monitor({"analytics": {"minSamples": 10}})
    for _ in range(30):
        off.store.on_event(stop_event("mock", 10.0))
    for _ in range(3):
        off.store.on_event(stop_event("mock", 60.0))
    assert off.assess("mock").status == "unhealthy"
    assert off.route(CHAT, "mock", "mock-1") is None


def test_route_lets_a_probe_through_and_never_targets_the_mock() -> None:
    mon = monitor({"analytics": {"minSamples": 10, "autoSwitch": True}})
    for _ in range(30):
        mon.store.on_event(stop_event("mock", 10.0))
    for _ in range(3):
        mon.store.on_event(stop_event("mock", 60.0))
    routes = [mon.route(CHAT, "mock", "mock-1") for _ in range(PROBE_EVERY)]
    assert routes[-1] is None and all(r is not None for r in routes[:-1])
    for _ in range(10):
        mon.store.on_event(stop_event("openai", 10.0, ok=False))
    assert mon.assess("openai").status == "unhealthy"
    assert mon.route(CHAT, "openai", "gpt-4o-mini") is None  # the mock is no fallback
    # nor is another API of the same service (openai-responses shares openai's key)
    assert mon.config.configured("openai-responses")


async def test_heavy_work_runs_on_the_analytics_executor_not_the_loop() -> None:
    import threading

    from dspex_protocol.analytics import PerformanceParams
    from dspex_server.services import Services

    services = Services(ConfigStore({"DSPEX_CONFIG": "/dev/null"}))
    try:
        name = await services.analytics.run(lambda: threading.current_thread().name)
        assert name.startswith("dspex-analytics") and name != threading.current_thread().name
        r = await services.analytics.performance(PerformanceParams(samples=[1.0, 2.0, 3.0]))
        assert r.mean == 2.0 and r.backend == "numpy"
    finally:
        await services.aclose()


def test_costs_on_events_reach_the_window() -> None:
    store = SampleStore(lambda: 10)
    event = stop_event("p", 5.0)
    event.cost_usd = 0.25  # priced by the pipeline's accounting
    store.on_event(event)
    snap = store.snapshot("p")
    assert snap is not None and snap.costs == [0.25]
