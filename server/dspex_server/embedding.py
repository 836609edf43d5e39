"""Which provider and model embed a request, and the checks on what a provider returns."""

from __future__ import annotations

from dspex_protocol import EmbedParams, ErrorKind

from .config import ConfigStore
from .errors import DspexError
from .providers.registry import AdapterRegistry
from .providers.table import FALLBACK_PROVIDER, LOCAL_EMBEDDER, PROVIDERS


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
