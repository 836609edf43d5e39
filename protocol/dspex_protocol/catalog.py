"""`dspex/models/list` and `dspex/models/recommend`: the model catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import WireModel

Feature = Literal["chat", "streaming", "tools", "vision", "json_schema", "reasoning", "embeddings"]
ModelSource = Literal["catalog", "live", "catalog+live"]


class ModelPricing(WireModel):
    """USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float = 0.0
    cached_input_per_mtok: float | None = None
    source: Literal["genai-prices", "catalog", "local"] = Field(
        description="genai-prices' data, the shipped catalog, or a local (free) model."
    )


class CatalogModel(WireModel):
    provider: str
    id: str
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: list[Feature] = Field(default_factory=list)
    pricing: ModelPricing | None = Field(default=None, description="null when unknown.")
    local: bool = Field(default=False, description="Runs on this machine (no per-token cost).")
    default: bool = Field(default=False, description="The provider's default model.")
    source: ModelSource = "catalog"


class ModelsListParams(WireModel):
    provider: str | None = None
    live: bool = Field(
        default=False,
        description="Merge the providers' live model lists (configured providers only; cached "
        "for a short TTL).",
    )


class ModelsListResult(WireModel):
    models: list[CatalogModel]
    notices: list[str] | None = Field(
        default=None, description="E.g. a provider whose live list could not be read."
    )


class ModelsRecommendParams(WireModel):
    features: list[Feature] = Field(default_factory=list, description="Required capabilities.")
    min_context_window: int | None = Field(default=None, gt=0)
    max_cost_per_1k_tokens: float | None = Field(
        default=None,
        alias="maxCostPer1kTokens",
        ge=0.0,
        description="USD per 1k tokens, the mean of input and output price.",
    )
    prefer_local: bool = False
    configured_only: bool = Field(
        default=False, description="Only providers that are configured in this daemon."
    )
    provider: str | None = None
    limit: int = Field(default=5, gt=0, le=100)


class Recommendation(WireModel):
    model: CatalogModel
    rank: int
    cost_per_1k_tokens: float | None = Field(alias="costPer1kTokens")
    configured: bool
    reason: str


class ModelsRecommendResult(WireModel):
    recommendations: list[Recommendation]
