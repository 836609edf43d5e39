"""The request pipeline: resolve provider and model → adapter → normalise → stats.

Retries, circuit breaking, context fitting and cost hook in here, once, for every provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from dspex_protocol import (
    ChatChunk,
    ChatParams,
    ChatResult,
    Choice,
    EmbedParams,
    EmbedResult,
    EmbedUsage,
    ErrorKind,
    Usage,
)

from .accounting import Accounting, ChatPlan
from .config import ConfigStore
from .errors import DspexError
from .providers.base import EmbedRequest, ProviderRequest, ProviderResponse, StreamAccumulator
from .providers.registry import AdapterRegistry
from .providers.table import FALLBACK_PROVIDER, LOCAL_EMBEDDER, PROVIDERS
from .telemetry import EventBus, Exchange, ExchangeSink, Operation, RequestEvent

log = logging.getLogger(__name__)

ChunkSink = Callable[[ChatChunk], None]
# (params, provider, model) → (provider, model, notice) to send the request elsewhere
# (analytics' auto-switch), or None to keep it.
Router = Callable[[ChatParams, str, str], "tuple[str, str, str] | None"]


class ChatCache(Protocol):
    """A cache consulted before a non-streamed chat (analytics' semantic cache)."""

    async def lookup(
        self, params: ChatParams, provider: str, model: str, correlation_id: str, notices: list[str]
    ) -> tuple[ChatResult | None, Any]: ...

    def store(self, key: Any, result: ChatResult) -> None: ...


class Pipeline:
    def __init__(
        self,
        config: ConfigStore,
        registry: AdapterRegistry,
        events: EventBus,
        accounting: Accounting | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.events = events
        # Context fitting, budgets and cost (accounting.py); a pass-through by default.
        self.accounting = accounting or Accounting()
        self.router: Router | None = None
        self.chat_cache: ChatCache | None = None
        # The durable log (store): awaited before the answer is returned, so that an
        # answered request is on disk. None: nothing recorded.
        self.exchanges: ExchangeSink | None = None

    def resolve(self, params: ChatParams) -> tuple[str, str, list[str]]:
        """(provider, model, notices) for a request; raises when it cannot be served."""
        notices: list[str] = []
        if params.provider:
            provider = params.provider
        else:
            provider, fallback = self.config.default_provider()
            if fallback:
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
            envs = ", ".join((*spec.key_envs, *spec.base_url_env_names()[:1]))
            raise DspexError(
                ErrorKind.PROVIDER_NOT_CONFIGURED,
                f"provider {provider!r} is not configured (set {envs} or "
                f"providers.{provider} in the config)",
                provider=provider,
            )
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
            return await self._chat(params, on_chunk)
        params = _with_correlation_id(params)
        return await self._recorded("chat", params, self._chat(params, on_chunk))

    async def embed(self, params: EmbedParams) -> EmbedResult:
        if self.exchanges is None:
            return await self._embed(params)
        params = _with_correlation_id(params)
        return await self._recorded("embed", params, self._embed(params))

    async def _recorded(self, operation: Operation, params: Any, work: Awaitable[R]) -> R:
        """Run `work`; hand its exchange (success or error) to the log before answering."""
        assert self.exchanges is not None
        at, started = time.time(), time.perf_counter()
        exchange = Exchange(operation, params.correlation_id, at, 0.0, params)
        try:
            result = await work
        except DspexError as exc:
            exchange.error_kind, exchange.error_message = exc.kind, exc.message
            exchange.provider, exchange.model = exc.provider, exc.model
            raise
        except asyncio.CancelledError:
            exchange.error_kind = ErrorKind.CANCELLED
            exchange.error_message = "cancelled by the client"
            raise
        except Exception as exc:
            exchange.error_kind = ErrorKind.INTERNAL_ERROR
            exchange.error_message = f"internal error ({type(exc).__name__})"
            raise
        else:
            exchange.result = result
            exchange.provider = getattr(result, "provider", None)
            exchange.model = getattr(result, "model", None)
            return result
        finally:
            exchange.latency_ms = (time.perf_counter() - started) * 1000
            await _record(self.exchanges, exchange)

    async def _chat(self, params: ChatParams, on_chunk: ChunkSink | None = None) -> ChatResult:
        correlation_id = params.correlation_id or uuid.uuid4().hex
        try:
            provider, model, notices = self.resolve(params)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        cache_key = None
        if self.chat_cache is not None and on_chunk is None:
            cached, cache_key = await self.chat_cache.lookup(
                params, provider, model, correlation_id, notices
            )
            if cached is not None:
                return cached
        plan = await self._plan(params, provider, model, correlation_id, notices)
        request = ProviderRequest(
            model=model,
            messages=plan.messages,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            top_p=params.top_p,
            stop=params.stop,
            seed=params.seed,
            tools=params.tools,
            tool_choice=params.tool_choice,
            response_format=params.response_format,
            timeout_s=params.timeout_ms / 1000 if params.timeout_ms else None,
        )
        started = time.perf_counter()
        streamed = on_chunk is not None

        def stop(kind: ErrorKind | None, usage: Usage | None = None, chunks: int = 0) -> float:
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
                    chunks=chunks,
                    session_id=params.session_id,
                    streamed=streamed,
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
        error: dict[str, object] | None = None
        chunks = 0
        try:
            adapter = await self.registry.get(provider)
            async with asyncio.timeout(request.timeout_s):
                if on_chunk is None:
                    response = await adapter.chat(request)
                else:
                    response, error, chunks = await self._stream(
                        adapter, request, correlation_id, on_chunk
                    )
        except DspexError as exc:
            exc.provider = exc.provider or provider
            exc.model = exc.model or model
            exc.correlation_id = correlation_id
            stop(exc.kind)
            raise
        except TimeoutError:
            stop(ErrorKind.TIMEOUT)
            raise DspexError(
                ErrorKind.TIMEOUT,
                f"no answer within timeoutMs={params.timeout_ms}",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            ) from None
        except asyncio.CancelledError:
            stop(ErrorKind.CANCELLED)
            raise
        # An interrupted stream returns the partial answer, but the request failed.
        kind = None if error is None else ErrorKind(str(error["kind"]))
        latency_ms = stop(kind, response.usage, chunks)
        cost, no_cost = await self.accounting.after(
            plan, provider, model, response.model, response.usage, params.session_id
        )
        result = ChatResult(
            choices=[
                Choice(index=0, message=response.message, finish_reason=response.finish_reason)
            ],
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
        )
        if cache_key is not None and self.chat_cache is not None:
            self.chat_cache.store(cache_key, result)
        return result

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

    async def _stream(
        self, adapter: object, request: ProviderRequest, correlation_id: str, on_chunk: ChunkSink
    ) -> tuple[ProviderResponse, dict[str, object] | None, int]:
        """Forward deltas as they arrive. If the stream breaks after text was sent, the
        partial answer is returned with finishReason `interrupted` and the error."""
        from .providers.base import Adapter

        assert isinstance(adapter, Adapter)
        acc = StreamAccumulator(request.model)
        sent = False
        stream = adapter.stream(request)
        try:
            async for part in stream:
                acc.add(part)
                if part.delta is not None:
                    on_chunk(ChatChunk(correlation_id=correlation_id, delta=part.delta))
                    sent = True
        except DspexError as exc:
            if not sent:
                raise
            response = acc.response(adapter.name)
            response.finish_reason = "interrupted"
            exc.provider = exc.provider or adapter.name
            exc.model = exc.model or request.model
            exc.correlation_id = correlation_id
            return response, exc.data().to_wire(), acc.chunks
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return acc.response(adapter.name), None, acc.chunks

    def resolve_embedder(self, params: EmbedParams) -> tuple[str, str, list[str]]:
        """The provider and model for `dspex/embed` (and notices): the one named, else the
        in-process `local` provider (offline, free), else the first configured provider (in
        table order) that offers embeddings, else the mock."""
        notices: list[str] = []
        if params.provider:
            provider = params.provider
        elif self.config.configured(LOCAL_EMBEDDER):
            provider = LOCAL_EMBEDDER
        else:
            provider = next(
                (
                    s.name
                    for s in PROVIDERS
                    if "embeddings" in s.capabilities
                    and s.name != FALLBACK_PROVIDER
                    and self.config.configured(s.name)
                ),
                FALLBACK_PROVIDER,
            )
            notices.append(
                f"local embeddings are unavailable (wordllama is not installed); "
                f"answered by {provider!r}"
            )
        spec = self.registry.spec(provider)
        if not self.config.configured(provider):
            hint = (
                f"install {spec.requires_module}"
                if spec.requires_module
                else f"set {', '.join((*spec.key_envs, *spec.base_url_env_names()[:1]))} "
                f"or providers.{provider} in the config"
            )
            raise DspexError(
                ErrorKind.PROVIDER_NOT_CONFIGURED,
                f"provider {provider!r} is not configured ({hint})",
                provider=provider,
            )
        settings = self.config.settings.provider(provider)
        model = params.model or settings.default_embedding_model or spec.default_embedding_model
        if not model:
            raise DspexError(
                ErrorKind.UNSUPPORTED_PROVIDER,
                f"provider {provider!r} has no embedding model",
                provider=provider,
            )
        return provider, model, notices

    async def _embed(self, params: EmbedParams) -> EmbedResult:
        correlation_id = params.correlation_id or uuid.uuid4().hex
        try:
            provider, model, notices = self.resolve_embedder(params)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        request = EmbedRequest(
            model=model,
            inputs=params.inputs,
            dimensions=params.dimensions,
            input_type=params.input_type,
            timeout_s=params.timeout_ms / 1000 if params.timeout_ms else None,
        )
        started = time.perf_counter()

        def stop(kind: ErrorKind | None, tokens: int = 0) -> float:
            latency_ms = (time.perf_counter() - started) * 1000
            usage = Usage(prompt_tokens=tokens, total_tokens=tokens) if kind is None else None
            self.events.publish(
                RequestEvent(
                    "stop",
                    "embed",
                    correlation_id,
                    provider,
                    model,
                    duration_ms=latency_ms,
                    success=kind is None,
                    error_kind=kind,
                    usage=usage,
                )
            )
            return latency_ms

        self.events.publish(RequestEvent("start", "embed", correlation_id, provider, model))
        try:
            adapter = await self.registry.get(provider)
            async with asyncio.timeout(request.timeout_s):
                response = await adapter.embed(request)
        except DspexError as exc:
            exc.provider = exc.provider or provider
            exc.model = exc.model or model
            exc.correlation_id = correlation_id
            stop(exc.kind)
            raise
        except asyncio.CancelledError:
            stop(ErrorKind.CANCELLED)
            raise
        except TimeoutError:
            stop(ErrorKind.TIMEOUT)
            raise DspexError(
                ErrorKind.TIMEOUT,
                f"no answer within timeoutMs={params.timeout_ms}",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            ) from None
        try:
            dimensions = _check_embeddings(response.embeddings, len(params.inputs))
        except DspexError as exc:
            exc.provider, exc.model, exc.correlation_id = provider, model, correlation_id
            stop(exc.kind)
            raise
        latency_ms = stop(None, response.prompt_tokens)
        return EmbedResult(
            embeddings=response.embeddings,
            model=response.model,
            provider=provider,
            dimensions=dimensions,
            usage=EmbedUsage(
                prompt_tokens=response.prompt_tokens, total_tokens=response.prompt_tokens
            ),
            correlation_id=correlation_id,
            latency_ms=round(latency_ms, 3),
            notices=notices or None,
        )


P = TypeVar("P", ChatParams, EmbedParams)
R = TypeVar("R")


def _with_correlation_id(params: P) -> P:
    if params.correlation_id:
        return params
    return params.model_copy(update={"correlation_id": uuid.uuid4().hex})


async def _record(sink: ExchangeSink, exchange: Exchange) -> None:
    """Log the exchange; a cancelled request is logged without waiting for the commit
    (its task is being cancelled), and a failing log never fails the request."""
    if exchange.error_kind is ErrorKind.CANCELLED:
        asyncio.get_running_loop().create_task(_quietly(sink, exchange))
        return
    await _quietly(sink, exchange)


async def _quietly(sink: ExchangeSink, exchange: Exchange) -> None:
    try:
        await sink(exchange)
    except Exception as exc:
        log.error("the exchange was not logged: %s", type(exc).__name__)


def _check_embeddings(embeddings: list[list[float]], expected: int) -> int:
    """The common dimension of a provider's embeddings; one vector per input required."""
    if len(embeddings) != expected:
        raise DspexError(
            ErrorKind.INVALID_RESPONSE, f"{len(embeddings)} embeddings for {expected} inputs"
        )
    dims = {len(v) for v in embeddings}
    if len(dims) != 1 or 0 in dims:
        raise DspexError(ErrorKind.INVALID_RESPONSE, "embeddings of unequal or zero dimension")
    return dims.pop()
