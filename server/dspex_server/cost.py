"""Prices (genai-prices, imported lazily) and the cost ledger.

genai-prices takes ~0.9 s to import, so it is loaded on a worker thread the first time a
price is needed, never on the daemon's start-up path. Usage semantics follow Chat
Completions: `promptTokens` includes `cachedTokens`, `completionTokens` includes
`reasoningTokens`; genai-prices prices the cached part at its cache-read price and the
`cacheWriteTokens` part at its cache-write price.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from dspex_protocol import Cost, CostTotal, ModelCostTotal, ModelPricing, Usage

log = logging.getLogger(__name__)

# dspex provider name → genai-prices provider id. Providers that run on this machine are
# free per token; any other provider without a row has unknown prices (cost: null).
PRICES_PROVIDER: dict[str, str] = {
    "openai": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "groq": "groq",
    "mistral": "mistral",
    "perplexity": "perplexity",
    "openrouter": "openrouter",
    "xai": "x-ai",
    "bedrock": "aws",
}
LOCAL_PROVIDERS = frozenset({"ollama", "lmstudio", "llama", "local", "mock"})
CURRENCY = "USD"
MAX_LEDGER_SESSIONS = 10_000
MAX_REMEMBERED_MODELS = 4096


class PriceBook:
    """Looks prices up in genai-prices' bundled snapshot (no network)."""

    def __init__(self) -> None:
        self._snapshot: Any = None
        self._lock = threading.Lock()
        self._loading: asyncio.Task[None] | None = None
        self.unavailable: str | None = None  # why prices could not be loaded
        self._found: dict[tuple[str, str], tuple[Any, Any] | None] = {}

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    def _load(self) -> None:
        with self._lock:
            if self._snapshot is not None or self.unavailable is not None:
                return
            try:
                from genai_prices import data_snapshot

                self._snapshot = data_snapshot.get_snapshot()
            except Exception as exc:  # costs become null with this reason; chat goes on
                self.unavailable = f"genai-prices could not be loaded ({type(exc).__name__})"
                log.error("%s", self.unavailable)

    async def ready(self) -> None:
        if self._snapshot is not None:
            return
        if self._loading is None:
            self._loading = asyncio.create_task(asyncio.to_thread(self._load))
        await asyncio.shield(self._loading)

    def _model(self, provider: str, model: str) -> tuple[Any, Any] | None:
        provider_id = PRICES_PROVIDER.get(provider)
        if provider_id is None or self._snapshot is None:
            return None
        key = (provider_id, model)
        if key in self._found:  # a miss searches every entry of the provider: remembered
            return self._found[key]
        try:
            found = self._snapshot.find_provider_model(model, None, provider_id, None)
        except LookupError:
            found = None
        if len(self._found) < MAX_REMEMBERED_MODELS:  # model names come from clients
            self._found[key] = found
        return found  # type: ignore[no-any-return]

    def context_window(self, provider: str, model: str) -> int | None:
        found = self._model(provider, model)
        window = getattr(found[1], "context_window", None) if found else None
        return window if isinstance(window, int) else None

    def pricing(self, provider: str, model: str) -> ModelPricing | None:
        """Base per-million-token prices (the first tier of tiered prices)."""
        if provider in LOCAL_PROVIDERS:
            return ModelPricing(input_per_mtok=0.0, output_per_mtok=0.0, source="local")
        found = self._model(provider, model)
        if found is None:
            return None
        try:
            price = found[1].get_prices(datetime.now(tz=UTC))
        except Exception:  # a malformed price row must not fail a listing
            return None
        values = {k: _base(v) for k, v in vars(price).items()}
        if values.get("input_mtok") is None:
            return None
        return ModelPricing(
            input_per_mtok=values["input_mtok"],
            output_per_mtok=values.get("output_mtok") or 0.0,
            cached_input_per_mtok=values.get("cache_read_mtok"),
            source="genai-prices",
        )

    def cost(
        self, provider: str, models: list[str], usage: Usage
    ) -> tuple[Cost | None, str | None]:
        """The cost of one request, or (None, why not). `models` are tried in order (the
        model the provider reported, then the one requested)."""
        if provider in LOCAL_PROVIDERS:
            return Cost(input=0.0, output=0.0, total=0.0, currency=CURRENCY), None
        if provider not in PRICES_PROVIDER:
            return None, f"no price data for provider {provider!r}"
        if usage.prompt_tokens == 0 and usage.completion_tokens == 0:
            return None, "the provider reported no token usage"
        if self._snapshot is None:
            return None, self.unavailable or "prices are not loaded"
        counts = (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens or 0,
            usage.reasoning_tokens or 0,
            usage.cache_write_tokens or 0,
        )
        day = datetime.now(tz=UTC).date()
        for model in dict.fromkeys(models):
            if self._model(provider, model) is None:  # unknown (remembered): no search
                continue
            try:
                prices = _calc_price(PRICES_PROVIDER[provider], model, counts, day)
            except Exception as exc:  # genai-prices refusing a usage shape: unknown, not 0
                log.warning("price calculation failed: %s", type(exc).__name__)
                return None, f"price calculation failed ({type(exc).__name__})"
            if prices is None:
                continue
            return Cost(input=prices[0], output=prices[1], total=prices[2], currency=CURRENCY), None
        return None, f"no price known for model {models[0]!r} of {provider!r}"

    def estimate(
        self, provider: str, model: str, prompt_tokens: int, output_tokens: int
    ) -> float | None:
        """Upper-bound estimate for a budget check; None when the price is unknown."""
        cost, _ = self.cost(
            provider,
            [model],
            Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=output_tokens,
                total_tokens=prompt_tokens + output_tokens,
            ),
        )
        return None if cost is None else cost.total


@lru_cache(maxsize=4096)
def _calc_price(
    provider_id: str, model: str, counts: tuple[int, int, int, int, int], day: date
) -> tuple[float, float, float] | None:
    """genai-prices' (input, output, total) for these token counts, None for a model it
    does not know. A calculation costs ~1 ms of CPU (a miss searches every entry); it is
    a pure function of its arguments on a given day (prices change by date), so repeated
    shapes of usage, and misses, are served from the cache."""
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    prompt, completion, cached, reasoning, cache_write = counts
    values = {"input_tokens": prompt, "output_tokens": completion}
    if cached:
        values["cache_read_tokens"] = cached
    if cache_write:  # billed above the input price (Anthropic: 1.25x for 5 minutes)
        values["cache_write_tokens"] = cache_write
    if reasoning:
        values["output_reasoning_tokens"] = reasoning
    try:
        calc = calc_price(PriceUsage(**values), model, provider_id=provider_id)
    except LookupError:
        return None
    return float(calc.input_price), float(calc.output_price), float(calc.total_price)


def _base(value: Any) -> float | None:
    if isinstance(value, Decimal):
        return float(value)
    base = getattr(value, "base", None)
    return float(base) if isinstance(base, Decimal) else None


def add_to_total(total: CostTotal | Tally, usage: Usage, cost: Cost | None) -> None:
    """Count one request in a total (a session's wire-model total, or a ledger tally)."""
    total.requests += 1
    total.prompt_tokens += usage.prompt_tokens
    total.completion_tokens += usage.completion_tokens
    if cost is None:
        total.unpriced_requests += 1
        return
    total.input += cost.input
    total.output += cost.output
    total.total += cost.total


@dataclass(slots=True)
class Tally:
    """A running CostTotal, kept as a plain dataclass: it is updated three or four times
    per request, and assigning a pydantic model's fields costs ~2 µs each (bench/)."""

    total: float = 0.0
    input: float = 0.0
    output: float = 0.0
    requests: int = 0
    unpriced_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: Usage, cost: Cost | None) -> None:
        add_to_total(self, usage, cost)

    def fields(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}

    def wire(self) -> CostTotal:
        return CostTotal(**self.fields())


@dataclass
class CostLedger:
    """Spending of this daemon per provider, model and session, plus in-flight reservations
    so that concurrent requests cannot together overrun a budget."""

    total: Tally = field(default_factory=Tally)
    by_provider: dict[str, Tally] = field(default_factory=dict)
    by_model: dict[tuple[str, str], Tally] = field(default_factory=dict)
    by_session: OrderedDict[str, Tally] = field(default_factory=OrderedDict)
    _reserved: dict[str, list[tuple[str | None, float]]] = field(default_factory=dict)

    def record(
        self, provider: str, model: str, session_id: str | None, usage: Usage, cost: Cost | None
    ) -> None:
        self.total.add(usage, cost)
        tally = self.by_provider.get(provider)
        if tally is None:
            tally = self.by_provider[provider] = Tally()
        tally.add(usage, cost)
        key = (provider, model)
        tally = self.by_model.get(key)
        if tally is None:
            tally = self.by_model[key] = Tally()
        tally.add(usage, cost)
        if session_id is not None:
            entry = self.by_session.pop(session_id, None) or Tally()
            self.by_session[session_id] = entry  # most recently used last
            entry.add(usage, cost)
            while len(self.by_session) > MAX_LEDGER_SESSIONS:
                self.by_session.popitem(last=False)

    def models_wire(self) -> list[ModelCostTotal]:
        return [
            ModelCostTotal(provider=provider, model=model, **tally.fields())
            for (provider, model), tally in self.by_model.items()
        ]

    def forget_session(self, session_id: str) -> None:
        self.by_session.pop(session_id, None)

    def reserve(self, key: str, session_id: str | None, amount: float) -> None:
        self._reserved.setdefault(key, []).append((session_id, amount))

    def release(self, key: str) -> None:
        entries = self._reserved.get(key)
        if entries:
            entries.pop(0)
            if not entries:
                del self._reserved[key]

    def pending(self, session_id: str | None = None) -> float:
        return sum(
            amount
            for entries in self._reserved.values()
            for sid, amount in entries
            if session_id is None or sid == session_id
        )

    def session_spent(self, session_id: str) -> float:
        entry = self.by_session.get(session_id)
        return entry.total if entry is not None else 0.0
