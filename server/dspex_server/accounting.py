"""What the pipeline does around each chat request: fit the context window, check budgets
before sending, and price the answer after. Kept apart from pipeline.py, which only calls
`before()` and `after()`."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dspex_protocol import ChatParams, Cost, ErrorKind, Message, Truncation, Usage

from .context import (
    REQUEST_OVERHEAD,
    estimate_message_tokens,
    estimate_tools_tokens,
    fit_messages,
)
from .cost import PRICES_PROVIDER
from .errors import DspexError
from .telemetry import RequestEvent

if TYPE_CHECKING:
    from .catalog.service import ModelCatalog
    from .config import ConfigStore
    from .cost import CostLedger, PriceBook

# (spent so far, cap) of a session the session store knows; None for other session ids.
SessionBudget = Callable[[str], "tuple[float, float | None] | None"]


@dataclass
class ChatPlan:
    messages: list[Message]
    truncation: Truncation | None = None
    notices: list[str] = field(default_factory=list)
    raw_estimate: int = 0  # uncalibrated estimate of what is sent, to calibrate against usage


class Accounting:
    """Pass-through: a pipeline without context fitting, budgets or prices."""

    async def before(
        self, params: ChatParams, provider: str, model: str, correlation_id: str
    ) -> ChatPlan:
        return ChatPlan(list(params.messages))

    async def after(
        self,
        plan: ChatPlan,
        provider: str,
        model: str,
        reported_model: str,
        usage: Usage,
        session_id: str | None,
    ) -> tuple[Cost | None, str | None]:
        return None, "cost accounting is not enabled"

    def context_window(self, provider: str, model: str) -> int | None:
        """The model's context window in tokens, where known (fail-over compares them)."""
        return None


CALIBRATION_BOUNDS = (0.25, 4.0)
CALIBRATION_WEIGHT = 0.5


class CostAndContext(Accounting):
    def __init__(
        self, config: ConfigStore, catalog: ModelCatalog, prices: PriceBook, ledger: CostLedger
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.prices = prices
        self.ledger = ledger
        self.session_budget: SessionBudget = lambda _: None
        self._ratio: dict[tuple[str, str], float] = {}

    def context_window(self, provider: str, model: str) -> int | None:
        return self.catalog.context_window(provider, model)

    def ratio(self, provider: str, model: str) -> float:
        """Reported prompt tokens / estimated ones for this model so far (1.0 until known)."""
        return self._ratio.get((provider, model), 1.0)

    def output_budget(self, params: ChatParams, provider: str, model: str) -> int:
        if params.max_tokens:
            return params.max_tokens
        budget = self.config.settings.context.default_output_budget
        window = self.catalog.context_window(provider, model)
        max_out = self.catalog.max_output_tokens(provider, model)
        for cap in (max_out, window // 4 if window else None):
            if cap:
                budget = min(budget, cap)
        return budget

    async def before(
        self, params: ChatParams, provider: str, model: str, correlation_id: str
    ) -> ChatPlan:
        ratio = self.ratio(provider, model)
        fixed_raw = REQUEST_OVERHEAD + estimate_tools_tokens(params.tools)
        plan = ChatPlan(list(params.messages))
        output = self.output_budget(params, provider, model)
        window = self.catalog.context_window(provider, model)
        strategy = params.context_strategy or self.config.settings.context.strategy
        try:
            if window is not None:
                fit = fit_messages(
                    params.messages,
                    max(window - output, 0),
                    lambda m: math.ceil(estimate_message_tokens(m) * ratio),
                    math.ceil(fixed_raw * ratio),
                    strategy,
                )
                plan.messages = fit.messages
                if fit.dropped:
                    plan.truncation = Truncation(
                        dropped_messages=fit.dropped,
                        estimated_tokens=fit.estimated_tokens,
                        context_window=window,
                        output_budget=output,
                    )
                    plan.notices.append(
                        f"context truncated: the {fit.dropped} oldest message(s) were left out "
                        f"to fit {model}'s {window}-token window"
                    )
            plan.raw_estimate = fixed_raw + sum(estimate_message_tokens(m) for m in plan.messages)
            await self._check_budgets(
                plan,
                params,
                provider,
                model,
                correlation_id,
                math.ceil(plan.raw_estimate * ratio),
                output,
            )
        except DspexError as exc:
            exc.provider, exc.model = exc.provider or provider, exc.model or model
            raise
        return plan

    async def _check_budgets(
        self,
        plan: ChatPlan,
        params: ChatParams,
        provider: str,
        model: str,
        correlation_id: str,
        prompt_tokens: int,
        output_tokens: int,
    ) -> None:
        budgets = self.config.settings.budgets
        session_id = params.session_id
        session: tuple[float, float | None] | None = None
        if session_id is not None:
            session = self.session_budget(session_id) or (
                self.ledger.session_spent(session_id),
                budgets.session_usd,
            )
        session_cap = session[1] if session else None
        if budgets.daemon_usd is None and session_cap is None:
            return
        await self.prices.ready()
        estimate = self.prices.estimate(provider, model, prompt_tokens, output_tokens)
        if estimate is None:
            plan.notices.append("budget not enforced for this request: its price is unknown")
            return
        if budgets.daemon_usd is not None:
            spent = self.ledger.total.total + self.ledger.pending()
            _refuse_over("daemon", budgets.daemon_usd, spent, estimate)
        if session is not None and session_cap is not None:
            spent = session[0] + self.ledger.pending(session_id)
            _refuse_over("session", session_cap, spent, estimate)
        self.ledger.reserve(correlation_id, session_id, estimate)

    async def after(
        self,
        plan: ChatPlan,
        provider: str,
        model: str,
        reported_model: str,
        usage: Usage,
        session_id: str | None,
    ) -> tuple[Cost | None, str | None]:
        if provider in PRICES_PROVIDER and (usage.prompt_tokens or usage.completion_tokens):
            await self.prices.ready()
        cost, reason = self.prices.cost(provider, [reported_model, model], usage)
        self.ledger.record(provider, model, session_id, usage, cost)
        if usage.prompt_tokens and plan.raw_estimate:
            self._calibrate(provider, model, usage.prompt_tokens / plan.raw_estimate)
        return cost, reason

    def _calibrate(self, provider: str, model: str, observed: float) -> None:
        low, high = CALIBRATION_BOUNDS
        observed = min(max(observed, low), high)
        key = (provider, model)
        old = self._ratio.get(key)
        self._ratio[key] = observed if old is None else old + CALIBRATION_WEIGHT * (observed - old)

    def on_event(self, event: object) -> None:
        """Releases a request's budget reservation when it stops (telemetry subscriber)."""
        if isinstance(event, RequestEvent) and event.phase == "stop":
            self.ledger.release(event.correlation_id)


def _refuse_over(scope: str, cap: float, spent: float, estimate: float) -> None:
    if spent + estimate <= cap:
        return
    raise DspexError(
        ErrorKind.BUDGET_EXCEEDED,
        f"the {scope} budget of ${cap:g} would be exceeded: ${spent:.6f} spent or reserved, "
        f"this request may cost up to ${estimate:.6f}",
        details={"scope": scope, "capUsd": cap, "spentUsd": spent, "estimatedUsd": estimate},
    )
