"""Cross-cutting reliability machinery the pipeline wraps around every provider call:
the retry policy (retry.py) and the per-provider circuit breaker (breaker.py); and the
daemon's memory given back after bursts (memory.py, not imported here: wired by services)."""

from .breaker import BreakerRegistry, CircuitBreaker, CircuitState
from .retry import backoff_ms, retry_delay_ms

__all__ = ["BreakerRegistry", "CircuitBreaker", "CircuitState", "backoff_ms", "retry_delay_ms"]
