"""The provider table: one row per provider, each naming its wire format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dspex_protocol.providers import WireFormat

from .settings import MockSettings, ProviderSettings


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    wire_format: WireFormat
    default_base_url: str | None
    default_model: str | None
    default_embedding_model: str | None = None
    key_envs: tuple[str, ...] = ()
    base_url_envs: tuple[str, ...] = ()
    needs_key: bool = True
    capabilities: frozenset[str] = frozenset({"chat", "streaming"})
    settings_cls: type[ProviderSettings] = ProviderSettings
    default_headers: Mapping[str, str] = field(default_factory=dict)

    def base_url_env_names(self) -> tuple[str, ...]:
        """`<PROVIDER>_BASE_URL` first, then the SDK-standard variables."""
        own = f"{self.name.upper()}_BASE_URL"
        return (own, *(e for e in self.base_url_envs if e != own))


CHAT_COMPLETIONS_CAPS = frozenset({"chat", "streaming", "tools", "json_mode"})

# The order of this table is the documented order in which a request without `provider`
# picks the first configured provider. `mock` is never picked that way: it is the fallback
# when nothing is configured, and the result says so.
PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "openai",
        "openai_compat",
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        "text-embedding-3-small",
        key_envs=("OPENAI_API_KEY",),
        base_url_envs=("OPENAI_BASE_URL",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"embeddings", "json_schema", "vision", "models"},
    ),
    ProviderSpec(
        "mock",
        "mock",
        None,
        "mock-1",
        "mock-embed",
        needs_key=False,
        capabilities=frozenset(
            {"chat", "streaming", "tools", "json_mode", "embeddings", "assistant_prefill"}
        ),
        settings_cls=MockSettings,
    ),
)

PROVIDER_BY_NAME: dict[str, ProviderSpec] = {p.name: p for p in PROVIDERS}
FALLBACK_PROVIDER = "mock"
