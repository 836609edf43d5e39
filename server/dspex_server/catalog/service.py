"""`dspex/models/list` and `dspex/models/recommend`: the catalog with prices and live lists."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from dspex_protocol import (
    CatalogModel,
    ModelsListParams,
    ModelsListResult,
    ModelsRecommendParams,
    ModelsRecommendResult,
    Recommendation,
)

from ..config import ConfigStore
from ..cost import PriceBook
from ..errors import DspexError
from ..providers.base import ModelListing
from ..providers.registry import AdapterRegistry
from ..providers.table import FALLBACK_PROVIDER, PROVIDER_BY_NAME, PROVIDERS
from .data import FEATURES, CatalogEntry, catalog_entries, lookup

log = logging.getLogger(__name__)

LIVE_TIMEOUT_S = 10.0


@dataclass
class _Live:
    fetched_at: float
    models: list[ModelListing]


class ModelCatalog:
    def __init__(self, config: ConfigStore, registry: AdapterRegistry, prices: PriceBook) -> None:
        self.config = config
        self.registry = registry
        self.prices = prices
        self._live: dict[str, _Live] = {}
        self._live_locks: dict[str, asyncio.Lock] = {}

    # -- lookups used on the request path (no genai-prices import) ----------------------

    def context_window(self, provider: str, model: str) -> int | None:
        overrides = self.config.settings.context.context_windows
        for key in (f"{provider}/{model}", model):
            if key in overrides:
                return overrides[key]
        entry = lookup(provider, model)
        if entry is not None and entry.context_window:
            return entry.context_window
        live = self._live_entry(provider, model)
        if live is not None and live.context_window:
            return live.context_window
        adapter = self.registry.peek(provider)
        known = adapter.known_context_window(model) if adapter is not None else None
        if known is not None:
            return known
        return self.prices.context_window(provider, model) if self.prices.loaded else None

    def max_output_tokens(self, provider: str, model: str) -> int | None:
        entry = lookup(provider, model)
        if entry is not None and entry.max_output_tokens:
            return entry.max_output_tokens
        live = self._live_entry(provider, model)
        return live.max_output_tokens if live is not None else None

    def _live_entry(self, provider: str, model: str) -> ModelListing | None:
        cached = self._live.get(provider)
        if cached is None:
            return None
        return next((m for m in cached.models if m.id == model), None)

    # -- listing --------------------------------------------------------------------------

    def _model(self, entry: CatalogEntry, source: str = "catalog") -> CatalogModel:
        spec = PROVIDER_BY_NAME.get(entry.provider)
        return CatalogModel.model_validate(
            {
                "provider": entry.provider,
                "id": entry.id,
                "context_window": entry.context_window,
                "max_output_tokens": entry.max_output_tokens,
                "capabilities": [f for f in FEATURES if f in entry.capabilities],
                "pricing": self.prices.pricing(entry.provider, entry.id),
                "local": entry.local,
                "default": spec is not None
                and entry.id in (spec.default_model, spec.default_embedding_model),
                "source": source,
            }
        )

    async def live_models(self, provider: str) -> list[ModelListing]:
        """A provider's live list, cached for `catalog.liveTtlS` seconds."""
        ttl = self.config.settings.catalog.live_ttl_s
        cached = self._live.get(provider)
        if cached is not None and time.monotonic() - cached.fetched_at < ttl:
            return cached.models
        lock = self._live_locks.setdefault(provider, asyncio.Lock())
        async with lock:
            cached = self._live.get(provider)
            if cached is not None and time.monotonic() - cached.fetched_at < ttl:
                return cached.models
            adapter = await self.registry.get(provider)
            async with asyncio.timeout(LIVE_TIMEOUT_S):
                models = await adapter.list_models()
            self._live[provider] = _Live(time.monotonic(), models)
            return models

    async def list(self, params: ModelsListParams) -> ModelsListResult:
        if params.provider is not None and not any(
            e.provider == params.provider for e in catalog_entries()
        ):
            self.registry.spec(params.provider)  # unknown provider → unsupported_provider
        await self.prices.ready()
        entries = [e for e in catalog_entries() if params.provider in (None, e.provider)]
        models = {(e.provider, e.id): self._model(e) for e in entries}
        notices: list[str] = []
        if params.live:
            # A row that is another API of a provider lists that provider's models: once.
            names = (
                [params.provider]
                if params.provider
                else [p.name for p in PROVIDERS if p.api_of is None]
            )
            if params.provider is not None and not self.config.configured(params.provider):
                notices.append(f"{params.provider}: not configured, so no live model list")
            names = [n for n in names if self.config.configured(n) and n != FALLBACK_PROVIDER]
            results = await asyncio.gather(
                *(self.live_models(n) for n in names), return_exceptions=True
            )
            for name, result in zip(names, results, strict=True):
                if isinstance(result, BaseException):
                    notices.append(f"{name}: live model list unavailable ({_why(result)})")
                    continue
                for listing in result:
                    self._merge_live(models, name, listing)
        ordered = sorted(models.values(), key=lambda m: (_provider_rank(m.provider), m.id))
        return ModelsListResult(models=ordered, notices=notices or None)

    def _merge_live(
        self, models: dict[tuple[str, str], CatalogModel], provider: str, listing: ModelListing
    ) -> None:
        key = (provider, listing.id)
        known = models.get(key)
        if known is not None:
            known.source = "catalog+live"
            return
        entry = lookup(provider, listing.id)
        caps = set(listing.capabilities) | (set(entry.capabilities) if entry else set())
        models[key] = CatalogModel.model_validate(
            {
                "provider": provider,
                "id": listing.id,
                "context_window": listing.context_window
                or (entry.context_window if entry else None)
                or self.prices.context_window(provider, listing.id),
                "max_output_tokens": listing.max_output_tokens
                or (entry.max_output_tokens if entry else None),
                "capabilities": [f for f in FEATURES if f in caps],
                "pricing": self.prices.pricing(provider, listing.id),
                "local": entry.local if entry else False,
                "source": "live",
            }
        )

    # -- recommendation -------------------------------------------------------------------

    async def recommend(self, params: ModelsRecommendParams) -> ModelsRecommendResult:
        await self.prices.ready()
        wanted: set[str] = set(params.features) or {"chat"}
        candidates: list[tuple[tuple[object, ...], CatalogModel, float | None, bool]] = []
        for entry in catalog_entries():
            if params.provider is not None and entry.provider != params.provider:
                continue
            # The mock is never recommended unless asked for by name.
            if entry.provider == FALLBACK_PROVIDER and params.provider != FALLBACK_PROVIDER:
                continue
            configured = self.config.configured(entry.provider)
            if params.configured_only and not configured:
                continue
            # A local model is only useful when its server is configured (or wanted).
            if entry.local and not (configured or params.prefer_local):
                continue
            if not wanted <= entry.capabilities:
                continue
            if (
                params.min_context_window
                and (entry.context_window or 0) < params.min_context_window
            ):
                continue
            model = self._model(entry)
            per_1k = _cost_per_1k(model)
            if params.max_cost_per_1k_tokens is not None and (
                per_1k is None or per_1k > params.max_cost_per_1k_tokens
            ):
                continue
            key = (
                0 if (params.prefer_local and entry.local) else 1,
                per_1k if per_1k is not None else float("inf"),
                0 if configured else 1,
                -(entry.context_window or 0),
                _provider_rank(entry.provider),
                entry.id,
            )
            candidates.append((key, model, per_1k, configured))
        candidates.sort(key=lambda c: c[0])
        picks = []
        for rank, (_, model, per_1k, configured) in enumerate(candidates[: params.limit], start=1):
            picks.append(
                Recommendation(
                    model=model,
                    rank=rank,
                    cost_per_1k_tokens=per_1k,
                    configured=configured,
                    reason=_reason(model, per_1k, configured, wanted, params, rank),
                )
            )
        return ModelsRecommendResult(recommendations=picks)


def _cost_per_1k(model: CatalogModel) -> float | None:
    """USD per 1k tokens: the mean of the input and output price."""
    if model.pricing is None:
        return None
    return (model.pricing.input_per_mtok + model.pricing.output_per_mtok) / 2 / 1000


def _reason(
    model: CatalogModel,
    per_1k: float | None,
    configured: bool,
    wanted: set[str],
    params: ModelsRecommendParams,
    rank: int,
) -> str:
    parts: list[str] = []
    if params.prefer_local and model.local:
        parts.append("runs locally (preferred)")
    if per_1k is None:
        parts.append("price unknown (ranked after priced models)")
    elif model.local:
        parts.append("free: runs on this machine")
    else:
        assert model.pricing is not None
        lead = "cheapest match" if rank == 1 else f"#{rank} by price"
        parts.append(
            f"{lead}: ${per_1k:.6f} per 1k tokens (input ${model.pricing.input_per_mtok:g}"
            f"/MTok, output ${model.pricing.output_per_mtok:g}/MTok)"
        )
    parts.append("has " + ", ".join(f for f in FEATURES if f in wanted))
    if model.context_window:
        parts.append(f"{model.context_window:,}-token context window")
    parts.append("configured" if configured else "not configured in this daemon")
    return "; ".join(parts)


def _provider_rank(name: str) -> int:
    return next((i for i, p in enumerate(PROVIDERS) if p.name == name), len(PROVIDERS))


def _why(exc: BaseException) -> str:
    if isinstance(exc, DspexError):
        return f"{exc.kind.value}: {exc.message}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return type(exc).__name__
