"""The request pipeline: resolve provider and model → adapter → normalise → stats.

Retries, circuit breaking, the rate-limit gate, context fitting and cost hook in here, once,
for every provider; fail-over chains (reliability/fallback.py) run one pipeline pass per
target.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from dspex_protocol import (
    ChatParams,
    ChatResult,
    EmbedParams,
    EmbedResult,
    ErrorKind,
    Message,
    Usage,
)

from .accounting import Accounting, ChatPlan
from .chat_request import (
    add_usage,
    can_continue,
    choices,
    fit_request,
    interrupted,
    provider_request,
)
from .config import ConfigStore
from .embedding import resolve_embedder, run_embed
from .errors import DspexError, scrub_error
from .partials import Chunk, ChunkSink
from .providers.base import (
    Adapter,
    EmbedRequest,
    ProviderRequest,
    ProviderResponse,
    StreamAccumulator,
)
from .providers.registry import AdapterRegistry
from .providers.table import PROVIDERS
from .recording import recorded, with_correlation_id
from .reliability.breaker import BreakerRegistry
from .reliability.fallback import Failover, Tally, is_route
from .reliability.gate import GateRegistry
from .reliability.idempotency import idempotency, new_idempotency_key
from .reliability.retry import backoff_ms, retry_delay_ms
from .reliability.streams import garbage_stream, malformed_notice, stream_idle_s
from .run_state import RunState
from .telemetry import EventBus, ExchangeSink, RequestEvent, new_correlation_id

log = logging.getLogger(__name__)

# (params, provider, model) → (provider, model, notice) to send the request elsewhere
# (analytics' auto-switch), or None to keep it.
Router = Callable[[ChatParams, str, str], "tuple[str, str, str] | None"]


class ChatCache(Protocol):
    """A cache consulted before a non-streamed chat (analytics' semantic cache)."""

    async def lookup(
        self, params: ChatParams, provider: str, model: str, correlation_id: str, notices: list[str]
    ) -> tuple[ChatResult | None, Any]: ...

    def store(self, key: Any, result: ChatResult) -> None: ...


T = TypeVar("T")
R = TypeVar("R", ProviderRequest, EmbedRequest)


ASSISTANT_PREFILL = "assistant_prefill"


class Pipeline:
    def __init__(
        self,
        config: ConfigStore,
        registry: AdapterRegistry,
        events: EventBus,
        breakers: BreakerRegistry | None = None,
        accounting: Accounting | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.events = events
        # The settings object is replaced on every config change: read it at call time.
        self.breakers = breakers or BreakerRegistry(
            lambda name: config.settings.circuit_policy(name)  # noqa: PLW0108
        )
        # Context fitting, budgets and cost (accounting.py); a pass-through by default.
        self.accounting = accounting or Accounting()
        self.router: Router | None = None
        self.chat_cache: ChatCache | None = None
        # The durable log (store): awaited before the answer is returned, so that an
        # answered request is on disk. None: nothing recorded.
        self.exchanges: ExchangeSink | None = None
        # The shared rate-limit gates (reliability/gate.py) and the fail-over chains.
        self.gates = GateRegistry()
        self.failover = Failover(self)

    def resolve(self, params: ChatParams) -> tuple[str, str, list[str]]:
        """(provider, model, notices) for a request; raises when it cannot be served."""
        if is_route(params.provider) or is_route(params.model):
            params, _ = self.failover.fallbacks_for(params)
        notices: list[str] = []
        if params.provider:
            provider = params.provider
        else:
            provider, fallback = self.config.default_provider()
            if fallback:
                self.config.refuse_fallback()
                notices.append(
                    "no provider is configured; answered by the built-in mock provider "
                    "(set OPENAI_API_KEY or another provider's key, or pass provider)"
                )
        spec = self.registry.spec(provider)
        if "chat" not in spec.capabilities:
            raise DspexError(
                ErrorKind.UNSUPPORTED_PROVIDER,
                f"provider {provider!r} does not chat (it offers: "
                f"{', '.join(sorted(spec.capabilities))})",
                provider=provider,
            )
        if not self.config.configured(provider):
            raise self.config.not_configured(provider)
        settings = self.config.settings.provider(provider)
        model = params.model or settings.default_model or spec.default_model
        if not model:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES, f"no model given for {provider!r}", provider=provider
            )
        if self.router is not None:
            switched = self.router(params, provider, model)
            if switched is not None:
                provider, model, notice = switched
                notices.append(notice)
        return provider, model, notices

    async def chat(self, params: ChatParams, on_chunk: ChunkSink | None = None) -> ChatResult:
        if self.exchanges is None:
            return await self.failover.chat(params, on_chunk)
        params = with_correlation_id(params)
        return await recorded(self.exchanges, "chat", params, self.failover.chat(params, on_chunk))

    async def embed(self, params: EmbedParams) -> EmbedResult:
        if self.exchanges is None:
            return await run_embed(self, params)
        params = with_correlation_id(params)
        return await recorded(self.exchanges, "embed", params, run_embed(self, params))

    async def run_target(  # noqa: PLR0915 - resolve, cache, plan, attempts, accounting: one flow
        self,
        params: ChatParams,
        target: tuple[str, str, list[str]] | None,
        on_chunk: ChunkSink | None = None,
        tally: Tally | None = None,
        prefix: str | None = None,
    ) -> ChatResult:
        """One request on one (provider, model): `target`, or the one `resolve` chooses.
        `prefix`: text a failed-over stream already delivered, given to this target as an
        assistant prefill to continue."""
        correlation_id = params.correlation_id or new_correlation_id()
        try:
            provider, model, notices = target or self.resolve(params)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        notices = list(notices)
        cache_key = None
        if self.chat_cache is not None and on_chunk is None:
            cached, cache_key = await self.chat_cache.lookup(
                params, provider, model, correlation_id, notices
            )
            if cached is not None:
                return cached
        plan = await self._plan(params, provider, model, correlation_id, notices)
        request = provider_request(params, model, plan.messages)
        request.stream_idle_timeout_s = stream_idle_s(
            params, self.config.settings.provider(provider)
        )
        started = time.perf_counter()
        streamed = on_chunk is not None
        run = RunState(deadline=None if request.timeout_s is None else started + request.timeout_s)
        run.tally = tally
        run.idempotent = self.config.settings.provider(provider).idempotency_header is not None

        def stop(
            kind: ErrorKind | None,
            usage: Usage | None = None,
            latency_ms: float | None = None,
            cost_usd: float | None = None,
        ) -> float:
            if latency_ms is None:
                latency_ms = (time.perf_counter() - started) * 1000
            self.events.publish(
                RequestEvent(
                    "stop",
                    "chat",
                    correlation_id,
                    provider,
                    model,
                    duration_ms=latency_ms,
                    success=kind is None,
                    error_kind=kind,
                    usage=usage,
                    chunks=run.chunks,
                    session_id=params.session_id,
                    streamed=streamed,
                    attempts=run.attempts,
                    resumed=run.resumed,
                    cost_usd=cost_usd,
                    malformed_events=0 if run.acc is None else run.acc.malformed,
                )
            )
            return latency_ms

        self.events.publish(
            RequestEvent(
                "start",
                "chat",
                correlation_id,
                provider,
                model,
                session_id=params.session_id,
                streamed=streamed,
            )
        )
        try:
            adapter = await self.registry.get(provider, model)
            request = fit_request(adapter, request)
            async with asyncio.timeout(request.timeout_s):
                if on_chunk is None:
                    response = await self._attempts(provider, request, run, adapter.chat)
                else:
                    sink = on_chunk
                    response = await self._attempts(
                        provider,
                        request,
                        run,
                        lambda r: self._stream(adapter, r, correlation_id, sink, run, prefix),
                    )
        except DspexError as exc:
            exc.provider = exc.provider or provider
            exc.model = exc.model or model
            exc.correlation_id = correlation_id
            self.scrub(exc)
            stop(exc.kind)
            raise
        except TimeoutError:
            timeout = DspexError(
                ErrorKind.TIMEOUT,
                f"no answer within timeoutMs={params.timeout_ms}",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
                # Spent within this request; a new request gets a new deadline.
                retryable=True,
            )
            if not run.sent or run.acc is None:
                stop(ErrorKind.TIMEOUT)
                raise timeout from None
            # The deadline struck mid-stream: the client has the partial text already.
            response = interrupted(run.acc, adapter.name)
            run.error = timeout
        except asyncio.CancelledError:
            stop(ErrorKind.CANCELLED)
            raise
        notices += [n for n in response.notices if n not in notices]
        # An interrupted stream returns the partial answer, but the request failed.
        error = self._run_error(run, provider, model, correlation_id)
        if run.acc is not None and run.acc.malformed:
            notices.append(malformed_notice(run.acc.malformed))
        # The latency is taken before pricing; the stop event waits for the cost so that
        # analytics can compare providers on it.
        latency_ms = (time.perf_counter() - started) * 1000
        cost, no_cost = await self.accounting.after(
            plan, provider, model, response.model, response.usage, params.session_id
        )
        stop(
            None if run.error is None else run.error.kind,
            response.usage,
            latency_ms=latency_ms,
            cost_usd=cost.total if cost is not None and cost.currency == "USD" else None,
        )
        result = ChatResult(
            choices=choices(response, adapter.name),
            usage=response.usage,
            provider=provider,
            model=response.model,
            correlation_id=correlation_id,
            latency_ms=round(latency_ms, 3),
            notices=notices or None,
            error=error,
            cost=cost,
            cost_unavailable_reason=no_cost,
            truncation=plan.truncation,
            response_id=response.response_id,
        )
        if cache_key is not None and self.chat_cache is not None:
            self.chat_cache.store(cache_key, result)
        return result

    def _run_error(
        self, run: RunState, provider: str, model: str, correlation_id: str
    ) -> dict[str, object] | None:
        """The ErrorData of what interrupted a stream whose partial answer is returned."""
        if run.error is None:
            return None
        run.error.provider = run.error.provider or provider
        run.error.model = run.error.model or model
        run.error.correlation_id = correlation_id
        return self.scrub(run.error).data().to_wire()

    async def _plan(
        self, params: ChatParams, provider: str, model: str, correlation_id: str, notices: list[str]
    ) -> ChatPlan:
        """Context fitting and the budget check (accounting.py), before anything is sent."""
        try:
            plan = await self.accounting.before(params, provider, model, correlation_id)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        notices += plan.notices
        return plan

    def scrub(self, error: DspexError) -> DspexError:
        """Remove every configured secret from an error before it leaves the daemon: a
        provider may quote the key in an error body that an adapter passes on (a snippet of
        a non-JSON answer, an error message)."""
        secrets = [k for k in (self.config.api_key(s.name) for s in PROVIDERS) if k]
        return scrub_error(error, [k for k in secrets if len(k) >= 4])

    async def _attempts(  # noqa: PLR0915 - breaker, gate, retry: one loop
        self,
        provider: str,
        request: R,
        run: RunState,
        call: Callable[[R], Awaitable[T]],
    ) -> T:
        """The one retry loop: each attempt passes the (provider, model) circuit breaker and
        its shared rate-limit gate, gets what is left of the request's deadline, and on a
        retryable failure waits (exponential backoff, full jitter, Retry-After honoured;
        after a 429 on the shared gate) unless a streamed byte already reached the client
        or the deadline would pass first."""
        settings = self.config.settings
        policy = settings.retry_policy(provider)
        breaker = self.breakers.get(provider, request.model)
        gate = self.gates.get(provider, request.model)
        limit = settings.provider(provider).rate_limit
        rpm, tpm = (None, None) if limit is None else (limit.rpm, limit.tpm)
        key = new_idempotency_key() if run.idempotent else None  # one for all attempts
        retry = 0
        while True:
            gated, sent_round, extra = await gate.admit(
                run.attempts,
                policy.attempts,
                run.deadline,
                rpm,
                policy.max_retry_after_ms / 1000,
                tpm,
            )
            run.attempts += extra + 1
            try:
                probe = breaker.before_call(request.model)
            except DspexError:
                gate.abandon(gated)
                raise
            attempt_request = request
            if run.deadline is not None:
                left = max(0.001, run.deadline - time.perf_counter())
                attempt_request = dataclasses.replace(request, timeout_s=left)
            if run.tally is not None:
                run.tally.requests += 1
            try:
                with idempotency(key):
                    response = await call(attempt_request)
            except DspexError as exc:
                breaker.failure(exc, probe)
                delay = None
                if not run.sent and run.attempts < policy.attempts:
                    delay = retry_delay_ms(policy, exc, retry, idempotent=run.idempotent)
                if exc.kind is ErrorKind.RATE_LIMITED:
                    wait = exc.retry_after_ms
                    gate.limited(
                        sent_round, gated, backoff_ms(policy, retry) if wait is None else wait
                    )
                else:
                    gate.passed(gated)
                if delay is None or (
                    run.deadline is not None and time.perf_counter() + delay / 1000 >= run.deadline
                ):
                    if run.attempts > 1:
                        exc.details = {**(exc.details or {}), "attempts": run.attempts}
                    raise
                retry += 1
                if exc.kind is not ErrorKind.RATE_LIMITED:  # a 429 waits on the gate
                    await asyncio.sleep(delay / 1000)
                continue
            except TimeoutError:
                breaker.failure(DspexError(ErrorKind.TIMEOUT, "deadline"), probe)
                gate.abandon(gated)
                raise
            except BaseException:
                breaker.abandon(probe)
                gate.abandon(gated)
                raise
            gate.passed(gated)
            if tpm is not None:
                usage = getattr(response, "usage", None)
                tokens = getattr(response, "prompt_tokens", 0)
                gate.spent(usage.total_tokens if isinstance(usage, Usage) else int(tokens or 0))
            if run.error is not None:
                breaker.failure(run.error, probe)
            else:
                breaker.success(probe)
            return response

    async def _stream(
        self,
        adapter: Adapter,
        request: ProviderRequest,
        correlation_id: str,
        on_chunk: ChunkSink,
        run: RunState,
        prefix: str | None = None,
    ) -> ProviderResponse:
        """Forward deltas as they arrive. A stream that breaks before anything reached the
        client raises (and may be retried); one that breaks after is resumed once with the
        partial answer as an assistant prefix where the provider supports it, else the
        partial answer is returned with finishReason `interrupted` and the error.
        `prefix`: the text another target delivered before it failed over to this one."""
        acc = run.acc = StreamAccumulator(request.model)
        base = request.messages
        if prefix:
            acc.add_text(prefix)
            request = dataclasses.replace(
                request, messages=[*base, Message(role="assistant", content=prefix)]
            )
        try:
            await self._pump(adapter, request, correlation_id, on_chunk, run, acc)
        except DspexError as exc:
            if not run.sent:
                garbage = garbage_stream(exc, acc)
                if garbage is not None:
                    raise garbage from None
                raise
            if can_continue(request) and self._can_resume(adapter, exc, acc):
                run.resumed = True
                first_usage = acc.usage
                resumed = Message(role="assistant", content=acc.partial_text)
                again = dataclasses.replace(request, messages=[*base, resumed])
                try:
                    # Another request (the prefix added): another idempotency key.
                    with idempotency(new_idempotency_key() if run.idempotent else None):
                        await self._pump(adapter, again, correlation_id, on_chunk, run, acc)
                except DspexError as second:
                    run.error = second
                    return interrupted(acc, adapter.name)
                response = acc.response(adapter.name)
                response.usage = add_usage(first_usage, response.usage)
                return response
            run.error = exc
            return interrupted(acc, adapter.name)
        return acc.response(adapter.name)

    async def _pump(
        self,
        adapter: Adapter,
        request: ProviderRequest,
        correlation_id: str,
        on_chunk: ChunkSink,
        run: RunState,
        acc: StreamAccumulator,
    ) -> None:
        stream = adapter.stream(request)
        try:
            async for part in stream:
                acc.add(part)
                run.chunks += 1
                if part.delta is not None:
                    on_chunk(Chunk(correlation_id, part.index, part.delta))
                    run.sent = True
        finally:
            # Closing the generator closes the provider's HTTP stream, also on cancel.
            await stream.aclose()  # type: ignore[attr-defined]

    def _can_resume(self, adapter: Adapter, error: DspexError, acc: StreamAccumulator) -> bool:
        # A stream cut after the answer began is resumable: the new request continues
        # the partial answer instead of repeating it.
        retryable = error.retryable or error.sent_after_answer
        if not retryable or acc.tool_calls or not acc.partial_text:
            return False
        return self.accepts_prefill(adapter.name)

    def accepts_prefill(self, provider: str) -> bool:
        """Whether the provider continues an assistant prefill (config, else its row)."""
        configured = self.config.settings.provider(provider).assistant_prefill
        if configured is not None:
            return configured
        return ASSISTANT_PREFILL in self.registry.spec(provider).capabilities

    def resolve_embedder(self, params: EmbedParams) -> tuple[str, str, list[str]]:
        return resolve_embedder(self.config, self.registry, params)
