"""`dspex/embed`: text embeddings from any provider that offers them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ._base import WireModel


class EmbedParams(WireModel):
    inputs: list[str] = Field(min_length=1, max_length=4096)
    provider: str | None = None
    model: str | None = None
    dimensions: int | None = Field(default=None, gt=0, le=65536)
    input_type: Literal["query", "document"] | None = Field(
        default=None, description="What the texts are for, where a provider distinguishes."
    )
    timeout_ms: int | None = Field(default=None, gt=0)
    correlation_id: str | None = Field(default=None, max_length=200)


class EmbedUsage(WireModel):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbedResult(WireModel):
    embeddings: list[list[float]]
    model: str
    provider: str
    dimensions: int
    usage: EmbedUsage
    correlation_id: str
    latency_ms: float
    notices: list[str] | None = Field(
        default=None, description="Things the client should know, e.g. an embedder fallback."
    )
