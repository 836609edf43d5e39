"""A circuit breaker per deployment (provider, model): closed → open after N failures
within a window → half-open (one probe at a time) after a cool-down → closed after M
successful probes.

It is fed by the pipeline's retry loop, one outcome per provider call (each attempt), and
read by `dspex/providers`, `dspex/stats` and `dspex/analytics/health` (a provider's circuit
there is its worst model's: one failing model opens only its own breaker, so a fallback to
another model of the same provider still goes through). It also remembers when the
provider last said "slow down" (429), which the stats report as the `throttled` state.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from dspex_protocol import ErrorKind

from ..errors import DspexError
from ..providers.settings import CircuitSettings

THROTTLE_DEFAULT_MS = 10_000.0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        provider: str,
        policy: Callable[[], CircuitSettings],
        clock: Callable[[], float] = time.monotonic,
        model: str | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self._policy = policy
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probes = 0
        self._probe_successes = 0
        self.total_failures = 0
        self.times_opened = 0
        self.rejected = 0
        self.last_failure_kind: ErrorKind | None = None
        self._throttled_until = 0.0

    # -- reading -------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The state, with an expired cool-down already counted as half-open."""
        policy = self._policy()
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= policy.cooldown_ms / 1000
        ):
            self._state = CircuitState.HALF_OPEN
            self._probes = 0
            self._probe_successes = 0
        return self._state

    def recent_failures(self) -> int:
        self._expire(self._policy())
        return len(self._failures)

    def retry_in_ms(self) -> float | None:
        if self.state is not CircuitState.OPEN:
            return None
        left = self._opened_at + self._policy().cooldown_ms / 1000 - self._clock()
        return max(0.0, left * 1000)

    @property
    def throttled(self) -> bool:
        return self._clock() < self._throttled_until

    # -- the call protocol -----------------------------------------------------------

    def before_call(self, model: str | None = None) -> bool:
        """Admit a call or raise `circuit_open`. Returns True when the call is a probe,
        whose outcome must be reported with `after_call`/`abandon`."""
        policy = self._policy()
        if not policy.enabled:
            return False
        state = self.state
        if state is CircuitState.CLOSED:
            return False
        if state is CircuitState.HALF_OPEN and self._probes == 0:
            self._probes = 1
            return True
        self.rejected += 1
        wait = self.retry_in_ms()
        target = self.provider if self.model is None else f"{self.provider}/{self.model}"
        raise DspexError(
            ErrorKind.CIRCUIT_OPEN,
            f"the circuit for {target!r} is {state.value} after "
            f"{policy.failure_threshold} failures; requests are refused until it recovers",
            provider=self.provider,
            model=model,
            retryable=False,
            retry_after_ms=None if wait is None else int(wait),
            details={"state": state.value, "lastFailureKind": _value(self.last_failure_kind)},
        )

    def success(self, probe: bool) -> None:
        if probe:
            self._probes = 0
            self._probe_successes += 1
            if self._probe_successes >= self._policy().success_threshold:
                self._state = CircuitState.CLOSED
                self._failures.clear()

    def failure(self, error: DspexError, probe: bool) -> None:
        policy = self._policy()
        if error.kind is ErrorKind.RATE_LIMITED:
            wait = error.retry_after_ms if error.retry_after_ms is not None else None
            self._throttled_until = self._clock() + (wait or THROTTLE_DEFAULT_MS) / 1000
        if error.kind not in policy.trip_on:
            self.abandon(probe)
            return
        self.total_failures += 1
        self.last_failure_kind = error.kind
        if not policy.enabled:
            return
        if probe:
            self._open()
            return
        now = self._clock()
        self._failures.append(now)
        self._expire(policy)
        if self._state is CircuitState.CLOSED and len(self._failures) >= policy.failure_threshold:
            self._open()

    def abandon(self, probe: bool) -> None:
        """A call ended without telling anything about the provider (cancelled, or a
        client-side error): free the probe slot."""
        if probe:
            self._probes = 0

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._probes = 0
        self._probe_successes = 0
        self._failures.clear()
        self.times_opened += 1

    def _expire(self, policy: CircuitSettings) -> None:
        horizon = self._clock() - policy.window_ms / 1000
        while self._failures and self._failures[0] < horizon:
            self._failures.popleft()


_SEVERITY = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class BreakerRegistry:
    """One breaker per (provider, model), created on first use; the policy is read on every
    call so that configuration changes apply at once."""

    def __init__(
        self,
        policy: Callable[[str], CircuitSettings],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._breakers: dict[str, dict[str, CircuitBreaker]] = {}

    def get(self, provider: str, model: str | None = None) -> CircuitBreaker:
        models = self._breakers.setdefault(provider, {})
        breaker = models.get(model or "")
        if breaker is None:
            breaker = CircuitBreaker(
                provider, lambda: self._policy(provider), self._clock, model=model
            )
            models[model or ""] = breaker
        return breaker

    def models(self, provider: str) -> dict[str, CircuitBreaker]:
        """The provider's breakers by model."""
        return dict(self._breakers.get(provider, {}))

    def peek(self, provider: str, model: str | None = None) -> CircuitBreaker | None:
        """One model's breaker; without a model the provider's worst (open, then half-open,
        then the one with the most recent failures)."""
        models = self._breakers.get(provider)
        if not models:
            return None
        if model is not None:
            return models.get(model)
        return max(
            models.values(), key=lambda b: (_SEVERITY[b.state], b.recent_failures(), b.rejected)
        )

    def worst_state(self, provider: str) -> str | None:
        breaker = self.peek(provider)
        return None if breaker is None else breaker.state.value


def _value(kind: ErrorKind | None) -> str | None:
    return None if kind is None else kind.value
