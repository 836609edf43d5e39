"""Idempotency keys: one per request, the same on each of its attempts, sent in the header
that a provider honours (`providers.<name>.idempotencyHeader`; none of the five wire formats
documents one for chat, so the default is none and a request the provider answered is
never sent again: `retry.may_resend`)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

# The idempotency key of the request being sent (the pipeline sets one per request, kept
# over its retries); sent in `providers.<name>.idempotencyHeader` where that is set.
_IDEMPOTENCY_KEY: ContextVar[str | None] = ContextVar("dspex_idempotency_key", default=None)


def new_idempotency_key() -> str:
    return f"dspex-{uuid.uuid4().hex}"


@contextlib.contextmanager
def idempotency(key: str | None) -> Iterator[None]:
    """Send `key` as the idempotency key of the requests made inside (None: none)."""
    token = _IDEMPOTENCY_KEY.set(key)
    try:
        yield
    finally:
        _IDEMPOTENCY_KEY.reset(token)


def current_idempotency_key() -> str | None:
    return _IDEMPOTENCY_KEY.get()
