"""Fail-over chains: a request that fails on one (provider, model) moves on to the next.

A chain comes from config (`[routes.NAME] chain = ["anthropic/claude-…", "openai/gpt-…"]`,
used as `provider = "route:NAME"` or `model = "route:NAME"`) or from the request
(`fallbacks: [{provider, model}]`, after the primary or the route's own chain). Each target
runs the whole pipeline (its breaker, rate-limit gate, retries, context fitting and cost):
only a failure that the target's retries could not mend moves the request on.

Which failures fail over (`failoverOn`, per request or per route; docs/reliability.md):
rate_limited (after the retries, or at once when the shared gate refuses), server_error
(5xx), overloaded (529, `overloaded_error`), timeout, network_error and circuit_open by
default; context_length only to a target whose context window (per the catalog) is larger
than the failing one's (smaller or unknown ones are skipped); authentication and
invalid_response only when asked. Never: an invalid request (400), a content filter, a
budget refusal, a cancel.

Deadline: `timeoutMs` covers the whole chain. A target that is not the last gets at most
half the time left, so that a fallback always has time to answer.

A stream cut mid-answer (interrupted, after the target's own resume if any) fails over too.
Where the next target accepts an assistant prefill (`assistant_prefill` capability or
`providers.<name>.assistantPrefill`), it is given the partial text and continues it
(`failover.mode = "continue"` on its first chunk); else it answers from the start
(`mode = "restart"`: the client drops the text it has). The result says so in `notices`,
names the provider/model that answered, and lists every target tried in `attempts` with
its outcome, requests, usage, cost and latency (failed ones too).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from dspex_protocol import (
    Attempt,
    ChatParams,
    ChatResult,
    ErrorKind,
    FailoverCause,
    FailoverMark,
    FallbackTarget,
)

from ..errors import DspexError
from ..providers.settings import DEFAULT_FAILOVER_ON

if TYPE_CHECKING:
    from ..partials import Chunk, ChunkSink
    from ..pipeline import Pipeline

ROUTE_PREFIX = "route:"
CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
CONTEXT_WORDS = ("context length", "context window", "too many tokens", "prompt is too long")
CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
OVERLOADED_CODES = frozenset({"overloaded_error", "overloaded", "ServiceUnavailableException"})
# The share of the time left that a target other than the last may use.
NON_LAST_SHARE = 0.5


@dataclass
class Tally:
    """What the pipeline tells about one target's run: requests on the wire."""

    requests: int = 0


@dataclass
class _Chain:
    targets: list[FallbackTarget]
    failover_on: frozenset[str]
    notices: list[str] = field(default_factory=list)


def failover_cause(error: DspexError) -> FailoverCause | None:
    """The fail-over cause a failure is, or None when it never fails over."""
    code = str((error.details or {}).get("code") or "")
    text = error.message.lower()
    if code in CONTEXT_CODES or any(w in text for w in CONTEXT_WORDS):
        return "context_length"
    if code in CONTENT_FILTER_CODES:
        return None
    if error.status in (401, 403) or error.kind.value == "authentication":
        return "authentication"
    kind = error.kind
    if kind is ErrorKind.RATE_LIMITED:
        return "rate_limited"
    if kind is ErrorKind.TIMEOUT:
        return "timeout"
    if kind is ErrorKind.NETWORK_ERROR:
        return "network_error"
    if kind is ErrorKind.CIRCUIT_OPEN:
        return "circuit_open"
    if kind is ErrorKind.INVALID_RESPONSE:
        return "invalid_response"
    if kind is ErrorKind.API_ERROR:
        if error.status == 529 or code in OVERLOADED_CODES:
            return "overloaded"
        if (error.status or 0) >= 500 or error.retryable:
            return "server_error"
    return None


def is_route(value: str | None) -> bool:
    return value is not None and value.startswith(ROUTE_PREFIX)


def parse_entry(entry: str) -> FallbackTarget:
    provider, _, model = entry.partition("/")
    return FallbackTarget(provider=provider, model=model or None)


class Failover:
    """Runs a request along its chain; without a chain, one plain pipeline run."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def chain(self, params: ChatParams) -> _Chain | None:
        """The request's chain (primary first), or None for a request without one."""
        route_name = next(
            (v[len(ROUTE_PREFIX) :] for v in (params.provider, params.model) if v and is_route(v)),
            None,
        )
        failover_on = params.failover_on
        if route_name is not None:
            route = self.pipeline.config.settings.routes.get(route_name)
            if route is None:
                known = ", ".join(sorted(self.pipeline.config.settings.routes)) or "none"
                raise DspexError(
                    ErrorKind.INVALID_MESSAGES,
                    f"unknown route {route_name!r} (configured routes: {known})",
                    details={"route": route_name},
                )
            targets = [parse_entry(e) for e in route.chain]
            failover_on = failover_on or cast(Any, route.failover_on)
        elif params.fallbacks:
            targets = [FallbackTarget(provider=params.provider or "", model=params.model)]
        else:
            return None
        targets += params.fallbacks or []
        return _Chain(targets, frozenset(failover_on or DEFAULT_FAILOVER_ON))

    def fallbacks_for(self, params: ChatParams) -> tuple[ChatParams, list[FallbackTarget]]:
        """For services that resolve the provider first (predict, sessions): the request
        on the chain's first target and the rest of the chain as `fallbacks`."""
        chain = self.chain(params)
        if chain is None:
            return params, []
        first, rest = chain.targets[0], chain.targets[1:]
        primary = params.model_copy(
            update={"provider": first.provider or None, "model": first.model, "fallbacks": None}
        )
        return primary, rest

    async def chat(self, params: ChatParams, on_chunk: ChunkSink | None) -> ChatResult:
        chain = self.chain(params)
        if chain is None:
            return await self.pipeline.run_target(params, None, on_chunk)
        return await self._run_chain(params, chain, on_chunk)

    def _resolve(self, params: ChatParams, target: FallbackTarget) -> tuple[str, str, list[str]]:
        probe = params.model_copy(
            update={
                "provider": target.provider or None,
                "model": target.model,
                "fallbacks": None,
            }
        )
        return self.pipeline.resolve(probe)

    async def _run_chain(  # noqa: PLR0915 - one loop over the chain's outcomes
        self, params: ChatParams, chain: _Chain, on_chunk: ChunkSink | None
    ) -> ChatResult:
        started = time.perf_counter()
        deadline = None if params.timeout_ms is None else started + params.timeout_ms / 1000
        attempts: list[Attempt] = []
        notices = chain.notices
        partial: str | None = None  # text a broken stream already delivered
        mark: FailoverMark | None = None
        last_window: int | None = None
        need_larger = False
        last_error = DspexError(ErrorKind.API_ERROR, "no target of the chain answered")
        targets = chain.targets
        for index, target in enumerate(targets):
            last = index == len(targets) - 1
            try:
                provider, model, resolved_notices = self._resolve(params, target)
            except DspexError as exc:
                attempts.append(_skipped(target, exc.kind))
                if last:
                    raise self._exhausted(exc, attempts) from None
                continue
            window = self.pipeline.accounting.context_window(provider, model)
            if need_larger and (window is None or last_window is None or window <= last_window):
                attempts.append(
                    Attempt(provider=provider, model=model, outcome="skipped", failover=None)
                )
                notices.append(
                    f"fail-over: skipped {provider}/{model} (its context window "
                    f"{window or 'unknown'} is not larger than {last_window})"
                )
                if last:
                    raise self._exhausted(last_error, attempts)
                continue
            notices += [n for n in resolved_notices if n not in notices]
            sub = params.model_copy(update={"fallbacks": None})
            if deadline is not None:
                left = deadline - time.perf_counter()
                if left <= 0.001:
                    raise self._exhausted(last_error, attempts)
                share = left if last else left * NON_LAST_SHARE
                sub = sub.model_copy(update={"timeout_ms": max(1, int(share * 1000))})
            prefix = None
            if (
                partial is not None
                and mark is not None
                and params.reasoning is None
                and self.pipeline.accepts_prefill(provider)
            ):
                mark.mode = "continue"
                prefix = partial
            sink = _marked(on_chunk, mark, provider, model)
            tally = Tally()
            t0 = time.perf_counter()
            try:
                result = await self.pipeline.run_target(
                    sub, (provider, model, []), sink, tally=tally, prefix=prefix
                )
            except DspexError as exc:
                latency = (time.perf_counter() - t0) * 1000
                cause = failover_cause(exc)
                moves = cause is not None and cause in chain.failover_on and not last
                attempts.append(
                    Attempt(
                        provider=provider,
                        model=model,
                        outcome="failed",
                        error_kind=exc.kind,
                        failover=cause if moves else None,
                        requests=tally.requests,
                        latency_ms=round(latency, 3),
                    )
                )
                if not moves:
                    raise self._exhausted(exc, attempts) from None
                last_error = exc
                need_larger = cause == "context_length"
                last_window = window
                notices.append(_moved(provider, model, exc.kind.value, cause))
                if partial is not None and cause is not None:
                    mark = _mark(cause)
                continue
            error = result.error
            latency = (time.perf_counter() - t0) * 1000
            if error is not None and not last:
                broken = DspexError(
                    ErrorKind(error.get("kind", "network_error")),
                    str(error.get("message", "")),
                    status=error.get("status"),
                    retryable=bool(error.get("retryable")),
                    details=error.get("details"),
                )
                cause = failover_cause(broken)
                if cause is not None and cause in chain.failover_on:
                    attempts.append(_answered(result, tally, latency, "interrupted", cause))
                    last_error = broken
                    notices.append(_moved(provider, model, broken.kind.value, cause))
                    partial = result.choices[0].message.content or ""
                    mark = _mark(cause)
                    need_larger = False
                    continue
            attempts.append(_answered(result, tally, latency, "answered", None))
            result.attempts = attempts
            result.notices = [*notices, *(result.notices or [])] or None
            return result
        raise self._exhausted(last_error, attempts)  # pragma: no cover - loop returns

    @staticmethod
    def _exhausted(error: DspexError, attempts: list[Attempt]) -> DspexError:
        """The error to raise: the last target's, with every attempt in its details."""
        error.details = {
            **(error.details or {}),
            "failover": [a.to_wire() for a in attempts],
        }
        return error


def _skipped(target: FallbackTarget, kind: ErrorKind) -> Attempt:
    return Attempt(
        provider=target.provider, model=target.model or "", outcome="skipped", error_kind=kind
    )


def _answered(
    result: ChatResult, tally: Tally, latency: float, outcome: Any, cause: FailoverCause | None
) -> Attempt:
    kind = None if result.error is None else result.error.get("kind")
    return Attempt(
        provider=result.provider,
        model=result.model,
        outcome=outcome,
        error_kind=kind,
        failover=cause,
        requests=tally.requests,
        usage=result.usage,
        cost=result.cost,
        latency_ms=round(latency, 3),
    )


def _mark(cause: FailoverCause) -> FailoverMark:
    return FailoverMark(provider="", model="", mode="restart", reason=cause)


def _moved(provider: str, model: str, kind: str, cause: FailoverCause | None) -> str:
    return f"fail-over: {provider}/{model} failed ({kind}, {cause}); trying the next target"


def _marked(
    on_chunk: ChunkSink | None, mark: FailoverMark | None, provider: str, model: str
) -> ChunkSink | None:
    """The client's chunk sink, putting `mark` on the first chunk of a stream that failed
    over (so the client knows to drop or keep what it has)."""
    if on_chunk is None or mark is None:
        return on_chunk
    pending = [mark.model_copy(update={"provider": provider, "model": model})]

    def sink(chunk: Chunk) -> None:
        if pending:
            chunk = dataclasses.replace(chunk, failover=pending.pop())
        on_chunk(chunk)

    return sink
