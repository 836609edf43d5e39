"""Builds one adapter per provider on first use and keeps it (and its pooled client)."""

from __future__ import annotations

from dspex_protocol.providers import WireFormat

from ..config import ConfigStore
from ..errors import DspexError
from .base import Adapter
from .mock_capture import MockCapture
from .settings import BedrockSettings, LlamaSettings, MockSettings, OpenAISettings
from .table import PROVIDER_BY_NAME, ProviderSpec

RESPONSES_ONLY = "responses_only"  # the catalog capability of models without Chat Completions


class AdapterRegistry:
    """Adapters are created lazily (HTTP libraries load on the first request, not at
    start-up) and rebuilt when their settings change. A provider speaks its row's wire
    format, except OpenAI, whose chats go to the Responses API where `api` (or, with
    `auto`, the model's catalog row) says so: one adapter per provider and wire format."""

    def __init__(self, config: ConfigStore) -> None:
        self.config = config
        self._adapters: dict[tuple[str, str], tuple[object, Adapter]] = {}
        self._responses_only: dict[tuple[str, str], bool] = {}  # the catalog's verdicts
        # What the mock was asked (dspex/mock/requests): outlives a rebuilt mock adapter.
        self.mock_capture = MockCapture()

    def spec(self, name: str) -> ProviderSpec:
        spec = PROVIDER_BY_NAME.get(name)
        if spec is None:
            from dspex_protocol import ErrorKind

            raise DspexError(
                ErrorKind.UNSUPPORTED_PROVIDER,
                f"unknown provider {name!r} (known: {', '.join(PROVIDER_BY_NAME)})",
                provider=name,
            )
        return spec

    def wire_format(self, spec: ProviderSpec, model: str | None) -> WireFormat:
        """The wire format a chat with `model` goes through."""
        settings = self.config.settings.provider(spec.name)
        if not isinstance(settings, OpenAISettings) or model is None or settings.api == "chat":
            return spec.wire_format
        if settings.api == "responses":
            return "openai_responses"
        key = (spec.name, model)
        only = self._responses_only.get(key)
        if only is None:
            from ..catalog.data import lookup

            entry = lookup(spec.name, model)
            only = entry is not None and RESPONSES_ONLY in entry.capabilities
            if len(self._responses_only) < 4096:  # models are few; names are the client's
                self._responses_only[key] = only
        return "openai_responses" if only else spec.wire_format

    async def get(self, name: str, model: str | None = None) -> Adapter:
        """The provider's adapter; with `model`, the one its chats go through."""
        spec = self.spec(name)
        wire = self.wire_format(spec, model)
        settings = self.config.settings.provider(name)
        key = (settings, self.config.settings.http_transport)
        slot = (name, wire)
        cached = self._adapters.get(slot)
        if cached is not None and cached[0] == key:
            return cached[1]
        adapter = self._build(spec, wire)
        self._adapters[slot] = (key, adapter)
        if cached is not None:
            await cached[1].aclose()
        return adapter

    def peek(self, name: str) -> Adapter | None:
        """The provider's adapter in its row's wire format, if one was built (nothing is
        created)."""
        spec = PROVIDER_BY_NAME.get(name)
        cached = None if spec is None else self._adapters.get((name, spec.wire_format))
        return cached[1] if cached is not None else None

    def _build(self, spec: ProviderSpec, wire: WireFormat) -> Adapter:
        settings = self.config.settings.provider(spec.name)
        if wire == "mock":
            from .mock import MockAdapter

            assert isinstance(settings, MockSettings)
            return MockAdapter(spec, settings, self.mock_capture)
        if wire == "openai_responses":
            from .openai_responses import OpenAIResponsesAdapter

            return OpenAIResponsesAdapter(
                spec, settings, self.config.api_key(spec.name), self.config.settings.http_transport
            )
        if wire == "openai_compat":
            from .openai_compat import OpenAICompatAdapter

            return OpenAICompatAdapter(
                spec, settings, self.config.api_key(spec.name), self.config.settings.http_transport
            )
        key, transport = self.config.api_key(spec.name), self.config.settings.http_transport
        if wire == "anthropic":
            from .anthropic import AnthropicAdapter

            return AnthropicAdapter(spec, settings, key, transport)
        if wire == "gemini":
            from .gemini import GeminiAdapter

            return GeminiAdapter(spec, settings, key, transport)
        if wire == "ollama":
            from .ollama import OllamaAdapter

            return OllamaAdapter(spec, settings, key, transport)
        if wire == "bedrock":
            from .bedrock import BedrockAdapter

            assert isinstance(settings, BedrockSettings)
            return BedrockAdapter(spec, settings, key, transport)
        if wire == "llama":
            from .llama import LlamaAdapter

            assert isinstance(settings, LlamaSettings)
            return LlamaAdapter(spec, settings)
        if wire == "local":
            from .local import LocalAdapter

            return LocalAdapter(spec)
        from dspex_protocol import ErrorKind

        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"wire format {wire!r} is not available",
            provider=spec.name,
        )

    async def aclose(self) -> None:
        for _, adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
