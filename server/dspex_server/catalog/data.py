"""The shipped catalog (models.json beside this module): per model its provider, context
window, max output and capabilities. Prices are not stored: they come from genai-prices."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..providers.bedrock_models import GEOGRAPHIES as BEDROCK_GEOGRAPHIES
from ..providers.table import PROVIDER_BY_NAME

FEATURES = ("chat", "streaming", "tools", "vision", "json_schema", "reasoning", "embeddings")


@dataclass(frozen=True)
class CatalogEntry:
    provider: str
    id: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: frozenset[str]
    local: bool = False


@cache
def catalog_entries() -> tuple[CatalogEntry, ...]:
    raw = json.loads(resources.files(__package__).joinpath("models.json").read_text("utf-8"))
    return tuple(
        CatalogEntry(
            provider=row["provider"],
            id=row["id"],
            context_window=row.get("contextWindow"),
            max_output_tokens=row.get("maxOutputTokens"),
            capabilities=frozenset(row.get("capabilities", ())),
            local=bool(row.get("local", False)),
        )
        for row in raw["models"]
    )


@cache
def _index() -> dict[tuple[str, str], CatalogEntry]:
    return {(e.provider, e.id.lower()): e for e in catalog_entries()}


def catalog_provider(provider: str) -> str:
    """The provider whose catalog rows a provider row uses (`openai-responses`: openai)."""
    spec = PROVIDER_BY_NAME.get(provider)
    return spec.api_of if spec is not None and spec.api_of else provider


def lookup(provider: str, model: str) -> CatalogEntry | None:
    """The catalog row of a model: exact id, else the longest catalog id the name starts
    with, followed by `-` or by a `:` tag (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`,
    Ollama's `qwen3:8b` → `qwen3`). A Bedrock cross-region inference profile
    (`us.anthropic.claude-...`) is the model it routes to."""
    entry = _lookup(provider, model)
    if entry is None and provider == "bedrock":
        geography, _, rest = model.partition(".")
        if geography.lower() in BEDROCK_GEOGRAPHIES and "." in rest:
            entry = _lookup(provider, rest)
    return entry


def _lookup(provider: str, model: str) -> CatalogEntry | None:
    provider = catalog_provider(provider)
    index = _index()
    name = model.lower()
    exact = index.get((provider, name))
    if exact is not None:
        return exact
    best: CatalogEntry | None = None
    for (p, model_id), entry in index.items():
        if (
            p == provider
            and (name.startswith(model_id + "-") or name.startswith(model_id + ":"))
            and (best is None or len(model_id) > len(best.id))
        ):
            best = entry
    return best


def provider_capabilities(provider: str) -> frozenset[str]:
    """What a provider can do: its table row's capabilities and those of its catalog models."""
    spec = PROVIDER_BY_NAME.get(provider)
    caps: set[str] = set(spec.capabilities) if spec is not None else set()
    shared = catalog_provider(provider)
    for entry in catalog_entries():
        if entry.provider == provider:
            caps |= entry.capabilities
        elif entry.provider == shared:  # another API of the provider: its chat models
            caps |= entry.capabilities - {"embeddings"}
    return frozenset(caps)


def provider_supports(provider: str, feature: str) -> bool:
    """Whether any model of `provider` offers `feature` (streaming, tools, vision,
    json_schema, embeddings, ...)."""
    return feature in provider_capabilities(provider)
