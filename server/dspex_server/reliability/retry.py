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


def may_resend(error: DspexError, idempotent: bool = False) -> bool:
    """Whether the request may be sent again after `error`. Once the provider answered
    (status line received, `sentAfterAnswer`), only when the request carries an
    idempotency key that the provider honours (`providers.<name>.idempotencyHeader`):
    else a reset after `200` would run, and bill, the request twice."""
    if error.sent_after_answer:
        return idempotent
    return error.retryable


def retry_delay_ms(
    policy: RetrySettings,
    error: DspexError,
    retry: int,
    rng: random.Random | None = None,
    *,
    idempotent: bool = False,
) -> float | None:
    """Milliseconds to wait before retrying after `error`, or None when it must not be
    retried: the provider did not mark it retryable, it failed after the provider answered
    (`may_resend`), its kind is not in `retryOn`, or it asks (Retry-After) for a longer
    wait than `maxRetryAfterMs`."""
    if not may_resend(error, idempotent) or error.kind not in policy.retry_on:
        return None
    delay = backoff_ms(policy, retry, rng)
    if error.retry_after_ms is not None:
        if error.retry_after_ms > policy.max_retry_after_ms:
            return None
        delay = max(delay, float(error.retry_after_ms))
    return delay
