"""The daemon's services, wired once, with no knowledge of JSON-RPC."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

from pydantic import SecretStr

from dspex_protocol import (
    Budgets,
    ConfigResult,
    CostParams,
    CostResult,
    CostTotal,
    ProviderInfo,
    ProvidersResult,
)

from .accounting import CostAndContext
from .analytics import Analytics
from .catalog import provider_capabilities
from .catalog.service import ModelCatalog
from .config import ConfigStore, Settings
from .cost import CostLedger, PriceBook
from .pipeline import Pipeline
from .providers.registry import AdapterRegistry
from .providers.table import PROVIDERS
from .reliability.breaker import BreakerRegistry
from .reliability.memory import MemoryReclaimer
from .stats import Stats, circuit_info
from .store import Store
from .store.indexes import SavedIndexes
from .telemetry import EventBus

if TYPE_CHECKING:
    from .predict.service import Predictor


class Services:
    def __init__(self, config: ConfigStore | None = None) -> None:
        self.config = config or ConfigStore()
        self._secrets: tuple[Settings, tuple[str, ...]] | None = None
        self.events = EventBus()
        # The settings object is replaced on every config change: read it at call time.
        self.breakers = BreakerRegistry(
            lambda name: self.config.settings.circuit_policy(name)  # noqa: PLW0108
        )
        self.stats = Stats(
            self.breakers,
            trips=lambda name, kind: kind in self.config.settings.circuit_policy(name).trip_on,
        )
        self.events.subscribe(self.stats.on_event, after_answer=True)
        # Gives memory back to the OS when the daemon goes idle after a burst.
        self.memory = MemoryReclaimer.from_environ(self.config.environ)
        self.events.subscribe(self.memory.on_event, after_answer=True)
        self.registry = AdapterRegistry(self.config)
        # Sessions, context windows, cost and the catalog (issue 5).
        self.prices = PriceBook()
        self.ledger = CostLedger()
        self.catalog = ModelCatalog(self.config, self.registry, self.prices)
        self.accounting = CostAndContext(self.config, self.catalog, self.prices, self.ledger)
        self.events.subscribe(self.accounting.on_event)
        self.pipeline = Pipeline(
            self.config,
            self.registry,
            self.events,
            breakers=self.breakers,
            accounting=self.accounting,
        )
        from .sessions.service import SessionService

        self.sessions = SessionService(self.config, self.pipeline, self.ledger, self.secrets)
        self.accounting.session_budget = self.sessions.budget
        self.analytics = Analytics(self.config, self.pipeline, self.events)
        self.analytics.health.breaker_state = self.breakers.worst_state
        self.analytics.health.breaker_models = lambda name: {
            model: b.state.value for model, b in self.breakers.models(name).items()
        }
        self.store = Store(self.config, self.secrets, self.config.environ)
        self.pipeline.exchanges = self.store.record
        self.sessions.persistence = self.store
        self.saved_indexes = SavedIndexes(self.store, self.analytics)
        self.analytics.index_loader = self.saved_indexes.ensure_loaded
        self.analytics.history = self.store.history_groups

    @cached_property
    def predictor(self) -> Predictor:
        # Built on the first prediction: its modules stay off the start-up path.
        from .predict.service import Predictor

        return Predictor(self.pipeline)

    def secrets(self) -> tuple[str, ...]:
        """Every secret the daemon knows of, for the log filter. Collected once per settings
        object (a config change replaces it): the history store asks on every request."""
        settings = self.config.settings
        cached = self._secrets
        if cached is None or cached[0] is not settings:
            cached = self._secrets = (settings, tuple(self._collect_secrets()))
        return cached[1]

    def _collect_secrets(self) -> Iterator[str]:
        for spec in PROVIDERS:
            key = self.config.api_key(spec.name)
            if key:
                yield key
            # Other secret settings (AWS secret access key, session token).
            settings = self.config.settings.provider(spec.name)
            for value in vars(settings).values():
                if isinstance(value, SecretStr) and value.get_secret_value():
                    yield value.get_secret_value()

    def providers(self) -> ProvidersResult:
        settings = self.config.settings
        infos = []
        for spec in PROVIDERS:
            ps = settings.provider(spec.name)
            infos.append(
                ProviderInfo(
                    name=spec.name,
                    configured=self.config.configured(spec.name),
                    wire_format=spec.wire_format,
                    default_model=ps.default_model or spec.default_model,
                    default_embedding_model=ps.default_embedding_model
                    or spec.default_embedding_model,
                    base_url=spec.base_url_for(ps),
                    capabilities=sorted(provider_capabilities(spec.name)),
                    circuit=circuit_info(self.breakers.peek(spec.name)),
                )
            )
        default, _ = self.config.default_provider()
        return ProvidersResult(providers=infos, default_provider=default)

    def config_result(self) -> ConfigResult:
        config = self.config.redacted()
        if self.config.problems:
            config["problems"] = list(self.config.problems)
        return ConfigResult(config=config, sources=self.config.sources())

    def cost_result(self, params: CostParams) -> CostResult:
        ledger = self.ledger
        budgets = self.config.settings.budgets
        by_session = {sid: tally.wire() for sid, tally in ledger.by_session.items()}
        if params.session_id is not None:
            by_session = {params.session_id: by_session.get(params.session_id, CostTotal())}
        return CostResult(
            total=ledger.total.wire(),
            by_provider={name: tally.wire() for name, tally in ledger.by_provider.items()},
            by_model=ledger.models_wire(),
            by_session=by_session,
            budgets=Budgets(
                daemon_usd=budgets.daemon_usd,
                session_usd=budgets.session_usd,
                daemon_remaining_usd=None
                if budgets.daemon_usd is None
                else max(budgets.daemon_usd - ledger.total.total, 0.0),
            ),
        )

    async def aclose(self) -> None:
        self.memory.close()
        await self.sessions.aclose()
        self.analytics.close()
        await asyncio.to_thread(self.store.close)
        await self.registry.aclose()
