"""Cost of a request, cost totals and budgets (`dspex/cost`)."""

from __future__ import annotations

from pydantic import Field

from ._base import WireModel


class Cost(WireModel):
    """What one request cost, from the provider's reported usage and genai-prices' prices."""

    input: float = Field(description="Cost of the prompt tokens (cached ones at their price).")
    output: float = Field(description="Cost of the completion tokens (reasoning included).")
    total: float
    currency: str = "USD"


class Truncation(WireModel):
    """Present on a chat result when messages were dropped to fit the context window."""

    dropped_messages: int = Field(description="How many of the oldest messages were left out.")
    estimated_tokens: int = Field(description="Estimated prompt tokens of what was sent.")
    context_window: int
    output_budget: int = Field(description="Tokens kept free for the answer.")


class CostTotal(WireModel):
    """Spending of one provider, model or session."""

    total: float = 0.0
    input: float = 0.0
    output: float = 0.0
    requests: int = 0
    unpriced_requests: int = Field(
        default=0, description="Requests whose cost could not be computed (cost: null)."
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ModelCostTotal(CostTotal):
    provider: str
    model: str


class Budgets(WireModel):
    daemon_usd: float | None = Field(default=None, description="Cap on the daemon's spending.")
    session_usd: float | None = Field(default=None, description="Default cap per session.")
    daemon_remaining_usd: float | None = None


class CostParams(WireModel):
    session_id: str | None = Field(default=None, description="Only this session's totals.")


class CostResult(WireModel):
    currency: str = "USD"
    total: CostTotal
    by_provider: dict[str, CostTotal] = Field(default_factory=dict)
    by_model: list[ModelCostTotal] = Field(default_factory=list)
    by_session: dict[str, CostTotal] = Field(default_factory=dict)
    budgets: Budgets
