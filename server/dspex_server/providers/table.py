"""The provider table: one row per provider, each naming its wire format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dspex_protocol.providers import WireFormat

from .settings import (
    AnthropicSettings,
    BedrockSettings,
    LlamaSettings,
    MockSettings,
    OpenAISettings,
    ProviderSettings,
    ResponsesSettings,
)


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
    # Other settings read from the environment: camelCase setting name -> variables.
    setting_envs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Settings that together stand in for an API key (AWS access key id and secret).
    credential_settings: tuple[str, ...] = ()
    # An importable module the provider needs before it counts as configured, and how to
    # install it.
    requires_module: str | None = None
    # The provider this row is another API of (`openai-responses` of `openai`): it shares
    # that provider's catalog rows and prices, and its settings (key, base URL, ...)
    # where its own block does not set them.
    api_of: str | None = None
    install_hint: str | None = None
    # Settings of which one must be set before it counts as configured (a model file).
    configured_by: tuple[str, ...] = ()

    def module_installed(self) -> bool:
        """Whether the module this row needs (`requires_module`) can be imported, found
        without importing it (start-up stays fast)."""
        if self.requires_module is None:
            return True
        import importlib.util

        try:
            return importlib.util.find_spec(self.requires_module) is not None
        except (ImportError, ValueError):
            return False

    def settings_block(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """This row's settings block from the config's `providers` table: its own, over
        the settings of the provider it is another API of (those its settings class has)."""
        own = dict(raw.get(self.name) or {})
        if self.api_of is None or not isinstance(raw.get(self.api_of), Mapping):
            return own
        fields = self.settings_cls.model_fields
        known = {n for f, info in fields.items() for n in (f, info.alias) if n}
        base = {k: v for k, v in raw[self.api_of].items() if k in known}
        return {**base, **own}

    def base_url_for(self, settings: ProviderSettings) -> str | None:
        """The base URL in force: the configured one, else the default with its `{region}`
        (Bedrock) filled in from the settings."""
        if settings.base_url:
            return settings.base_url.rstrip("/")
        if self.default_base_url is None:
            return None
        return self.default_base_url.format(region=getattr(settings, "region", ""))

    def base_url_env_names(self) -> tuple[str, ...]:
        """`<PROVIDER>_BASE_URL` first, then the SDK-standard variables."""
        own = f"{self.name.upper().replace('-', '_')}_BASE_URL"
        return (own, *(e for e in self.base_url_envs if e != own))


CHAT_COMPLETIONS_CAPS = frozenset({"chat", "streaming", "tools", "json_mode"})
# OpenRouter ranks apps by these attribution headers; override them (or add others) with
# `providers.openrouter.headers`.
OPENROUTER_ATTRIBUTION = {"HTTP-Referer": "https://pypi.org/project/dspex/", "X-Title": "dspex"}

# The order of this table is the documented order in which a request without `provider`
# picks the first configured provider that can chat: openai (openai-responses shares its
# key, so it is never the first configured one), anthropic, gemini, groq,
# mistral, xai, perplexity, openrouter, bedrock, then the local servers (lmstudio, ollama),
# then an in-process GGUF model (`llama`, once a model file is configured); `local` offers
# embeddings only (it is `dspex/embed`'s default). `mock` is never picked that way: it is
# the fallback when nothing is configured, and the result says so.
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
        settings_cls=OpenAISettings,
    ),
    # OpenAI's Responses API for every model (the `openai` row uses it only for the models
    # that need it, or with `api = "responses"`): the same key and base URL variables.
    ProviderSpec(
        "openai-responses",
        "openai_responses",
        "https://api.openai.com/v1",
        "o4-mini",
        key_envs=("OPENAI_API_KEY",),
        base_url_envs=("OPENAI_BASE_URL",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"json_schema", "vision", "models"},
        settings_cls=ResponsesSettings,
        api_of="openai",
    ),
    ProviderSpec(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "claude-haiku-4-5",
        key_envs=("ANTHROPIC_API_KEY",),
        base_url_envs=("ANTHROPIC_BASE_URL",),
        capabilities=frozenset(
            {"chat", "streaming", "tools", "json_mode", "json_schema", "vision", "models"}
        ),
        settings_cls=AnthropicSettings,
    ),
    ProviderSpec(
        "gemini",
        "gemini",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-flash",
        "gemini-embedding-001",
        key_envs=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        base_url_envs=("GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
        capabilities=frozenset(
            {"chat", "streaming", "tools", "json_mode", "json_schema", "vision", "embeddings"}
            | {"models"}
        ),
    ),
    ProviderSpec(
        "groq",
        "openai_compat",
        "https://api.groq.com/openai/v1",
        "llama-3.3-70b-versatile",
        key_envs=("GROQ_API_KEY",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"models"},
    ),
    ProviderSpec(
        "mistral",
        "openai_compat",
        "https://api.mistral.ai/v1",
        "mistral-small-latest",
        "mistral-embed",
        key_envs=("MISTRAL_API_KEY",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"embeddings", "vision", "models"},
    ),
    ProviderSpec(
        "xai",
        "openai_compat",
        "https://api.x.ai/v1",
        "grok-4",
        key_envs=("XAI_API_KEY",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"json_schema", "vision", "models"},
    ),
    ProviderSpec(
        "perplexity",
        "openai_compat",
        # Perplexity serves /chat/completions at the root, without a version segment.
        "https://api.perplexity.ai",
        "sonar",
        key_envs=("PERPLEXITY_API_KEY",),
        capabilities=frozenset({"chat", "streaming", "json_schema"}),
    ),
    ProviderSpec(
        "openrouter",
        "openai_compat",
        "https://openrouter.ai/api/v1",
        "openai/gpt-4o-mini",
        key_envs=("OPENROUTER_API_KEY",),
        capabilities=CHAT_COMPLETIONS_CAPS | {"json_schema", "vision", "models"},
        default_headers=OPENROUTER_ATTRIBUTION,
    ),
    ProviderSpec(
        "bedrock",
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        "amazon.nova-lite-v1:0",
        "amazon.titan-embed-text-v2:0",
        key_envs=("AWS_BEARER_TOKEN_BEDROCK",),
        base_url_envs=("AWS_ENDPOINT_URL_BEDROCK_RUNTIME",),
        capabilities=frozenset({"chat", "streaming", "tools", "vision", "embeddings", "models"}),
        settings_cls=BedrockSettings,
        setting_envs={
            "awsAccessKeyId": ("AWS_ACCESS_KEY_ID",),
            "awsSecretAccessKey": ("AWS_SECRET_ACCESS_KEY",),
            "awsSessionToken": ("AWS_SESSION_TOKEN",),
            "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
            "controlBaseUrl": ("AWS_ENDPOINT_URL_BEDROCK",),
        },
        credential_settings=("aws_access_key_id", "aws_secret_access_key"),
    ),
    # Local servers: no key; configured when their base URL is given. LM Studio serves
    # whichever model is loaded, so there is no default model: pass `model` or set
    # `providers.lmstudio.defaultModel`.
    ProviderSpec(
        "lmstudio",
        "openai_compat",
        "http://localhost:1234/v1",
        None,
        base_url_envs=("LMSTUDIO_API_BASE",),
        needs_key=False,
        capabilities=CHAT_COMPLETIONS_CAPS | {"embeddings", "models"},
    ),
    ProviderSpec(
        "ollama",
        "ollama",
        "http://localhost:11434",
        "llama3.2",
        "nomic-embed-text",
        base_url_envs=("OLLAMA_HOST", "OLLAMA_API_BASE"),
        needs_key=False,
        capabilities=CHAT_COMPLETIONS_CAPS | {"json_schema", "vision", "embeddings", "models"},
    ),
    # GGUF models run in-process on llama.cpp: configured once llama_cpp imports and a
    # model is named (`modelPath`, or `models.<name>`); the default model is that file's.
    ProviderSpec(
        "llama",
        "llama",
        None,
        None,
        needs_key=False,
        capabilities=frozenset(
            {"chat", "streaming", "tools", "json_mode", "json_schema", "embeddings", "models"}
        ),
        settings_cls=LlamaSettings,
        setting_envs={"modelPath": ("DSPEX_LLAMA_MODEL_PATH",)},
        requires_module="llama_cpp",
        install_hint="pip install 'dspex[llama]'",
        configured_by=("model_path", "models"),
    ),
    ProviderSpec(
        "local",
        "local",
        None,
        None,
        "l2_supercat",
        needs_key=False,
        capabilities=frozenset({"embeddings", "models"}),
        requires_module="wordllama",
        install_hint="pip install wordllama (or pip install 'dspex[local]')",
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
# `dspex/embed` without a provider: in-process and offline, whenever wordllama imports.
LOCAL_EMBEDDER = "local"
