"""The retry policy's arithmetic and the circuit breaker's state machine, in-process."""

from __future__ import annotations

import random

import pytest

from dspex_protocol import ErrorKind
from dspex_server.config import ConfigStore
from dspex_server.errors import DspexError
from dspex_server.providers.settings import CircuitSettings, RetrySettings
from dspex_server.reliability import CircuitBreaker, CircuitState, backoff_ms, retry_delay_ms


def err(kind: ErrorKind, retryable: bool = True, retry_after_ms: int | None = None) -> DspexError:
    return DspexError(kind, "x", retryable=retryable, retry_after_ms=retry_after_ms)


def test_backoff_is_full_jitter_below_the_exponential_ceiling() -> None:
    policy = RetrySettings(base_ms=100, cap_ms=1000)
    rng = random.Random(7)
    for retry, ceiling in [(0, 100), (1, 200), (2, 400), (3, 800), (4, 1000), (30, 1000)]:
        samples = [backoff_ms(policy, retry, rng) for _ in range(400)]
        assert all(0 <= s <= ceiling for s in samples)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(samples) < ceiling * 0.1 and max(samples) > ceiling * 0.9


@pytest.mark.parametrize(
    "kind",
    [ErrorKind.TIMEOUT, ErrorKind.NETWORK_ERROR, ErrorKind.RATE_LIMITED, ErrorKind.API_ERROR],
)
def test_retryable_kinds_are_retried(kind: ErrorKind) -> None:
    assert retry_delay_ms(RetrySettings(), err(kind), 0) is not None


def test_not_retryable_or_not_listed_is_not_retried() -> None:
    assert retry_delay_ms(RetrySettings(), err(ErrorKind.API_ERROR, retryable=False), 0) is None
    assert retry_delay_ms(RetrySettings(), err(ErrorKind.INVALID_MESSAGES), 0) is None
    only_timeouts = RetrySettings(retry_on=[ErrorKind.TIMEOUT])
    assert retry_delay_ms(only_timeouts, err(ErrorKind.RATE_LIMITED), 0) is None


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = RetrySettings(base_ms=1, cap_ms=2, max_retry_after_ms=5000)
    assert retry_delay_ms(policy, err(ErrorKind.RATE_LIMITED, retry_after_ms=1500), 0) == 1500
    assert retry_delay_ms(policy, err(ErrorKind.RATE_LIMITED, retry_after_ms=6000), 0) is None


def test_provider_override_replaces_only_the_fields_given() -> None:
    store = ConfigStore(environ={"DSPEX_CONFIG": "/dev/null"})
    store.set_layer(
        "initializationOptions",
        {"retry": {"baseMs": 7, "attempts": 4}, "providers": {"mock": {"retry": {"attempts": 9}}}},
    )
    assert store.settings.retry_policy("mock").attempts == 9
    assert store.settings.retry_policy("mock").base_ms == 7
    assert store.settings.retry_policy("openai").attempts == 4


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **kw: object) -> CircuitBreaker:
    policy = CircuitSettings(
        failure_threshold=3, window_ms=10_000, cooldown_ms=5_000, success_threshold=2, **kw
    )
    return CircuitBreaker("p", lambda: policy, clock)


def test_breaker_opens_after_n_failures_within_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        b.failure(err(ErrorKind.API_ERROR), b.before_call())
    assert b.state is CircuitState.CLOSED
    b.failure(err(ErrorKind.API_ERROR), b.before_call())
    assert b.state is CircuitState.OPEN
    with pytest.raises(DspexError) as info:
        b.before_call()
    assert info.value.kind is ErrorKind.CIRCUIT_OPEN
    assert info.value.retry_after_ms == 5000
    assert b.rejected == 1 and b.times_opened == 1


def test_failures_outside_the_window_do_not_count() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(2):
        b.failure(err(ErrorKind.TIMEOUT), b.before_call())
    clock.now += 11
    b.failure(err(ErrorKind.TIMEOUT), b.before_call())
    assert b.state is CircuitState.CLOSED
    assert b.recent_failures() == 1


def test_client_errors_and_rate_limits_do_not_trip_but_429_throttles() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(5):
        b.failure(err(ErrorKind.INVALID_MESSAGES, retryable=False), b.before_call())
        b.failure(err(ErrorKind.RATE_LIMITED, retry_after_ms=2000), b.before_call())
    assert b.state is CircuitState.CLOSED
    assert b.throttled
    clock.now += 2.5
    assert not b.throttled


def test_half_open_probe_then_close_after_m_successes() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure(err(ErrorKind.NETWORK_ERROR), b.before_call())
    clock.now += 5
    assert b.state is CircuitState.HALF_OPEN
    probe = b.before_call()
    assert probe
    with pytest.raises(DspexError):  # one probe at a time
        b.before_call()
    b.success(probe)
    assert b.state is CircuitState.HALF_OPEN
    b.success(b.before_call())
    assert b.state is CircuitState.CLOSED
    assert not b.before_call()


def test_failed_probe_reopens_and_cancelled_probe_frees_the_slot() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.failure(err(ErrorKind.NETWORK_ERROR), b.before_call())
    clock.now += 5
    b.abandon(b.before_call())
    probe = b.before_call()
    b.failure(err(ErrorKind.TIMEOUT), probe)
    assert b.state is CircuitState.OPEN and b.times_opened == 2


def test_disabled_breaker_never_opens() -> None:
    clock = Clock()
    b = breaker(clock, enabled=False)
    for _ in range(10):
        b.failure(err(ErrorKind.API_ERROR), b.before_call())
    assert b.state is CircuitState.CLOSED
    assert b.total_failures == 10


async def test_notification_futures_are_released() -> None:
    """pygls files async notification handlers' futures and never drops them; dspex does."""
    import asyncio
    import io
    import json

    from pygls.io_ import StdoutWriter

    from dspex_server.rpc import build_server
    from dspex_server.services import Services

    server, _ = build_server(Services(ConfigStore(environ={"DSPEX_CONFIG": "/dev/null"})))
    server.protocol.set_writer(StdoutWriter(io.BytesIO()))
    note = {"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration"}
    for _ in range(50):
        server.dispatch(json.dumps({**note, "params": {"settings": {"telemetry": True}}}).encode())
    await asyncio.sleep(0.05)
    assert server.protocol._request_futures == {}


def test_the_log_filters_secrets_follow_config_changes() -> None:
    # Collected once per settings object (the history log asks on every request); a key
    # added later (didChangeConfiguration, workspace settings) must be filtered at once.
    from dspex_server.services import Services

    config = ConfigStore({"OPENAI_API_KEY": "sk-env-key-1234", "DSPEX_CONFIG": "/dev/null"})
    services = Services(config)
    first = services.secrets()
    assert "sk-env-key-1234" in first
    assert services.secrets() is first  # cached
    config.set_editor_settings("workspace", {"providers": {"anthropic": {"apiKey": "ak-new-5678"}}})
    assert "ak-new-5678" in services.secrets()
    assert "sk-env-key-1234" in services.secrets()
