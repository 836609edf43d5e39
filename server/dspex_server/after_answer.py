"""Bookkeeping that the client does not wait for, run once a request's answer has left.

A chat's statistics, analytics windows, health assessment and telemetry notification (the
pipeline's stop event) were computed before its answer was written: tens of µs on the
critical path of every request (docs/benchmarks.md, "added latency"). Work handed to
`after_answer` while a daemon request is being handled runs right after that request's
answer is written to stdout, before the daemon reads its next message, so nothing a later
request sees changes; only the order of the answer and those updates does (a
`dspex/telemetry` stop event now follows the answer it describes). Outside a daemon
request (in-process callers, tests) the work runs at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

log = logging.getLogger("dspex.server")

Deferred = list[Callable[[], None]]

_deferred: ContextVar[Deferred | None] = ContextVar("dspex_after_answer", default=None)


def after_answer(fn: Callable[[], None]) -> None:
    """Run `fn` once the answer of the request being handled has been written."""
    queue = _deferred.get()
    if queue is None:
        fn()
    else:
        queue.append(fn)


def collect() -> tuple[Deferred, object]:
    """Start collecting this task's after-answer work: (the queue, a token for `stop`)."""
    queue: Deferred = []
    return queue, _deferred.set(queue)


def stop(token: object) -> None:
    _deferred.reset(token)  # type: ignore[arg-type]


def run(queue: Deferred) -> None:
    """Run collected work; one failing item neither stops the others nor escapes."""
    for fn in queue:
        try:
            fn()
        except Exception as exc:
            log.error("after-answer work failed: %s", type(exc).__name__)
