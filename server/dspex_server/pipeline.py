"""The request pipeline: resolve provider and model → adapter → normalise → stats.

Retries, circuit breaking, context fitting and cost hook in here, once, for every provider.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from dspex_protocol import (
    ChatChunk,
    ChatParams,
    ChatResult,
    Choice,
    EmbedParams,
    EmbedResult,
    EmbedUsage,
    ErrorKind,
)

from .config import ConfigStore
from .errors import DspexError
from .providers.base import EmbedRequest, ProviderRequest, ProviderResponse, StreamAccumulator
from .providers.registry import AdapterRegistry
from .providers.table import FALLBACK_PROVIDER, PROVIDERS
from .stats import Stats

ChunkSink = Callable[[ChatChunk], None]


class Pipeline:
    def __init__(self, config: ConfigStore, registry: AdapterRegistry, stats: Stats) -> None:
        self.config = config
        self.registry = registry
        self.stats = stats

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
        return provider, model, notices

    async def chat(self, params: ChatParams, on_chunk: ChunkSink | None = None) -> ChatResult:
        correlation_id = params.correlation_id or uuid.uuid4().hex
        try:
            provider, model, notices = self.resolve(params)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        request = ProviderRequest(
            model=model,
            messages=params.messages,
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
        self.stats.started(provider, model)
        error: dict[str, object] | None = None
        try:
            adapter = await self.registry.get(provider)
            async with asyncio.timeout(request.timeout_s):
                if on_chunk is None:
                    response = await adapter.chat(request)
                else:
                    response, error = await self._stream(adapter, request, correlation_id, on_chunk)
        except DspexError as exc:
            exc.provider = exc.provider or provider
            exc.model = exc.model or model
            exc.correlation_id = correlation_id
            self.stats.failed(provider, model, exc.kind)
            raise
        except TimeoutError:
            self.stats.failed(provider, model, ErrorKind.TIMEOUT)
            raise DspexError(
                ErrorKind.TIMEOUT,
                f"no answer within timeoutMs={params.timeout_ms}",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            ) from None
        except asyncio.CancelledError:
            self.stats.failed(provider, model, ErrorKind.CANCELLED)
            raise
        latency_ms = (time.perf_counter() - started) * 1000
        if error is None:
            self.stats.succeeded(provider, model, latency_ms)
        else:  # an interrupted stream: the partial answer is returned, the request failed
            self.stats.failed(provider, model, ErrorKind(str(error["kind"])))
        return ChatResult(
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
        )

    async def _stream(
        self, adapter: object, request: ProviderRequest, correlation_id: str, on_chunk: ChunkSink
    ) -> tuple[ProviderResponse, dict[str, object] | None]:
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
            return response, exc.data().to_wire()
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return acc.response(adapter.name), None

    def resolve_embedder(self, params: EmbedParams) -> tuple[str, str]:
        """The provider and model for `dspex/embed`: the one named, else the first configured
        provider (in table order) that offers embeddings, else the mock."""
        if params.provider:
            provider = params.provider
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
        spec = self.registry.spec(provider)
        if not self.config.configured(provider):
            raise DspexError(
                ErrorKind.PROVIDER_NOT_CONFIGURED,
                f"provider {provider!r} is not configured",
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
        return provider, model

    async def embed(self, params: EmbedParams) -> EmbedResult:
        correlation_id = params.correlation_id or uuid.uuid4().hex
        try:
            provider, model = self.resolve_embedder(params)
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
        try:
            adapter = await self.registry.get(provider)
            async with asyncio.timeout(request.timeout_s):
                response = await adapter.embed(request)
        except DspexError as exc:
            exc.provider = exc.provider or provider
            exc.model = exc.model or model
            exc.correlation_id = correlation_id
            raise
        except TimeoutError:
            raise DspexError(
                ErrorKind.TIMEOUT,
                f"no answer within timeoutMs={params.timeout_ms}",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            ) from None
        if len(response.embeddings) != len(params.inputs):
            raise DspexError(
                ErrorKind.INVALID_RESPONSE,
                f"{len(response.embeddings)} embeddings for {len(params.inputs)} inputs",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            )
        dims = {len(v) for v in response.embeddings}
        if len(dims) != 1:
            raise DspexError(
                ErrorKind.INVALID_RESPONSE,
                "embeddings of unequal dimensions",
                provider=provider,
                model=model,
                correlation_id=correlation_id,
            )
        return EmbedResult(
            embeddings=response.embeddings,
            model=response.model,
            provider=provider,
            dimensions=dims.pop(),
            usage=EmbedUsage(
                prompt_tokens=response.prompt_tokens, total_tokens=response.prompt_tokens
            ),
            correlation_id=correlation_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )
