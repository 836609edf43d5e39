"""`dspex/providers` and `dspex/config`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ._base import WireModel
from .stats import CircuitInfo

WireFormat = Literal[
    "openai_compat",
    "openai_responses",
    "anthropic",
    "gemini",
    "ollama",
    "bedrock",
    "llama",
    "local",
    "mock",
]


class ProvidersParams(WireModel):
    pass


class ProviderInfo(WireModel):
    name: str
    configured: bool
    wire_format: WireFormat
    default_model: str | None = None
    default_embedding_model: str | None = None
    base_url: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    circuit: CircuitInfo | None = Field(default=None, description="the circuit breaker")


class ProvidersResult(WireModel):
    providers: list[ProviderInfo]
    default_provider: str = Field(description="The provider a request without `provider` goes to.")


class ConfigParams(WireModel):
    pass


class ConfigResult(WireModel):
    config: dict[str, Any] = Field(description="The effective configuration, secrets redacted.")
    sources: list[str] = Field(description="Where it came from, lowest precedence first.")
