"""Builds one adapter per provider on first use and keeps it (and its pooled client)."""

from __future__ import annotations

from ..config import ConfigStore
from ..errors import DspexError
from .base import Adapter
from .mock_capture import MockCapture
from .settings import BedrockSettings, LlamaSettings, MockSettings
from .table import PROVIDER_BY_NAME, ProviderSpec


class AdapterRegistry:
    """Adapters are created lazily (HTTP libraries load on the first request, not at
    start-up) and rebuilt when their settings change."""

    def __init__(self, config: ConfigStore) -> None:
        self.config = config
        self._adapters: dict[str, tuple[object, Adapter]] = {}
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

    async def get(self, name: str) -> Adapter:
        spec = self.spec(name)
        settings = self.config.settings.provider(name)
        key = (settings, self.config.settings.http_transport)
        cached = self._adapters.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        adapter = self._build(spec)
        self._adapters[name] = (key, adapter)
        if cached is not None:
            await cached[1].aclose()
        return adapter

    def peek(self, name: str) -> Adapter | None:
        """The provider's adapter if one was built (nothing is created)."""
        cached = self._adapters.get(name)
        return cached[1] if cached is not None else None

    def _build(self, spec: ProviderSpec) -> Adapter:
        settings = self.config.settings.provider(spec.name)
        if spec.wire_format == "mock":
            from .mock import MockAdapter

            assert isinstance(settings, MockSettings)
            return MockAdapter(spec, settings, self.mock_capture)
        if spec.wire_format == "openai_compat":
            from .openai_compat import OpenAICompatAdapter

            return OpenAICompatAdapter(
                spec, settings, self.config.api_key(spec.name), self.config.settings.http_transport
            )
        key, transport = self.config.api_key(spec.name), self.config.settings.http_transport
        if spec.wire_format == "anthropic":
            from .anthropic import AnthropicAdapter

            return AnthropicAdapter(spec, settings, key, transport)
        if spec.wire_format == "gemini":
            from .gemini import GeminiAdapter

            return GeminiAdapter(spec, settings, key, transport)
        if spec.wire_format == "ollama":
            from .ollama import OllamaAdapter

            return OllamaAdapter(spec, settings, key, transport)
        if spec.wire_format == "bedrock":
            from .bedrock import BedrockAdapter

            assert isinstance(settings, BedrockSettings)
            return BedrockAdapter(spec, settings, key, transport)
        if spec.wire_format == "llama":
            from .llama import LlamaAdapter

            assert isinstance(settings, LlamaSettings)
            return LlamaAdapter(spec, settings)
        if spec.wire_format == "local":
            from .local import LocalAdapter

            return LocalAdapter(spec)
        from dspex_protocol import ErrorKind

        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"wire format {spec.wire_format!r} is not available",
            provider=spec.name,
        )

    async def aclose(self) -> None:
        for _, adapter in self._adapters.values():
            await adapter.aclose()
        self._adapters.clear()
