"""The retry policy: which failures are retried, and how long to wait before the next try.

The loop itself lives in the pipeline (`Pipeline._attempts`), once for every provider;
adapters never retry.
"""

from __future__ import annotations

import random

from ..errors import DspexError
from ..providers.settings import RetrySettings


def backoff_ms(policy: RetrySettings, retry: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**retry)).
    `retry` counts from 0 for the wait before the second attempt."""
    ceiling = min(policy.cap_ms, policy.base_ms * (2 ** min(retry, 62)))
    return (rng or random).uniform(0.0, ceiling)


def retry_delay_ms(
    policy: RetrySettings, error: DspexError, retry: int, rng: random.Random | None = None
) -> float | None:
    """Milliseconds to wait before retrying after `error`, or None when it must not be
    retried: the provider did not mark it retryable, its kind is not in `retryOn`, or it
    asks (Retry-After) for a longer wait than `maxRetryAfterMs`."""
    if not error.retryable or error.kind not in policy.retry_on:
        return None
    delay = backoff_ms(policy, retry, rng)
    if error.retry_after_ms is not None:
        if error.retry_after_ms > policy.max_retry_after_ms:
            return None
        delay = max(delay, float(error.retry_after_ms))
    return delay
