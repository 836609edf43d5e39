"""`dspex/embed`: which provider and model embed a request, the request's run, and the
checks on what a provider returns."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from dspex_protocol import EmbedParams, EmbedResult, EmbedUsage, ErrorKind, Usage

from .config import ConfigStore
from .errors import DspexError
from .providers.base import EmbedRequest
from .providers.registry import AdapterRegistry
from .providers.table import FALLBACK_PROVIDER, LOCAL_EMBEDDER, PROVIDERS
from .run_state import RunState
from .telemetry import RequestEvent, new_correlation_id

if TYPE_CHECKING:
    from .pipeline import Pipeline


def resolve_embedder(
    config: ConfigStore, registry: AdapterRegistry, params: EmbedParams
) -> tuple[str, str, list[str]]:
    """The provider and model for `dspex/embed` (and notices): the one named, else the
    in-process `local` provider (offline, free), else the first configured provider (in
    table order) that offers embeddings, else the mock."""
    notices: list[str] = []
    if params.provider:
        provider = params.provider
    elif config.configured(LOCAL_EMBEDDER):
        provider = LOCAL_EMBEDDER
    else:
        provider = next(
            (
                s.name
                for s in PROVIDERS
                if "embeddings" in s.capabilities
                and s.name != FALLBACK_PROVIDER
                and config.configured(s.name)
            ),
            FALLBACK_PROVIDER,
        )
        if provider == FALLBACK_PROVIDER:
            config.refuse_fallback()
        notices.append(
            f"local embeddings are unavailable (wordllama is not installed); "
            f"answered by {provider!r}"
        )
    spec = registry.spec(provider)
    if not config.configured(provider):
        raise config.not_configured(provider)
    settings = config.settings.provider(provider)
    model = params.model or settings.default_embedding_model or spec.default_embedding_model
    if not model:
        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"provider {provider!r} has no embedding model",
            provider=provider,
        )
    return provider, model, notices


def check_embeddings(embeddings: list[list[float]], expected: int) -> int:
    """The common dimension of a provider's embeddings; one vector per input required."""
    if len(embeddings) != expected:
        raise DspexError(
            ErrorKind.INVALID_RESPONSE, f"{len(embeddings)} embeddings for {expected} inputs"
        )
    dims = {len(v) for v in embeddings}
    if len(dims) != 1 or 0 in dims:
        raise DspexError(ErrorKind.INVALID_RESPONSE, "embeddings of unequal or zero dimension")
    return dims.pop()


async def run_embed(pipeline: Pipeline, params: EmbedParams) -> EmbedResult:
    """One `dspex/embed` request on the provider and model it resolves to."""
    correlation_id = params.correlation_id or new_correlation_id()
    try:
        provider, model, notices = resolve_embedder(pipeline.config, pipeline.registry, params)
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
    run = RunState(deadline=None if request.timeout_s is None else started + request.timeout_s)

    def stop(kind: ErrorKind | None, tokens: int = 0) -> float:
        latency_ms = (time.perf_counter() - started) * 1000
        usage = Usage(prompt_tokens=tokens, total_tokens=tokens) if kind is None else None
        pipeline.events.publish(
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
                attempts=run.attempts,
            )
        )
        return latency_ms

    pipeline.events.publish(RequestEvent("start", "embed", correlation_id, provider, model))
    try:
        adapter = await pipeline.registry.get(provider)
        async with asyncio.timeout(request.timeout_s):
            response = await pipeline._attempts(provider, request, run, adapter.embed)
    except DspexError as exc:
        exc.provider = exc.provider or provider
        exc.model = exc.model or model
        exc.correlation_id = correlation_id
        pipeline.scrub(exc)
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
        dimensions = check_embeddings(response.embeddings, len(params.inputs))
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
        usage=EmbedUsage(prompt_tokens=response.prompt_tokens, total_tokens=response.prompt_tokens),
        correlation_id=correlation_id,
        latency_ms=round(latency_ms, 3),
        notices=notices or None,
    )
