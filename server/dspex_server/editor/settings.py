"""`editor.*` settings: what inline completion may send, to whom, and how eagerly."""

from __future__ import annotations

from pydantic import Field

from ..providers.settings import SettingsModel


class InlineCompletionSettings(SettingsModel):
    """`editor.inlineCompletion`: fill-in-the-middle for `textDocument/inlineCompletion`."""

    enabled: bool = True
    languages: dict[str, bool] = Field(
        default_factory=dict,
        description="per languageId: false turns completion off there (true: back on "
        "where `enabled` is false)",
    )
    provider: str | None = Field(default=None, description="default: defaultProvider")
    model: str | None = Field(default=None, description="default: the provider's FIM model")
    native_fim: bool = Field(
        default=True,
        description="use a provider's own FIM endpoint (Mistral, Ollama) instead of a chat prompt",
    )
    debounce_ms: float = Field(
        default=75.0, ge=0.0, le=5000.0, description="wait before an automatic request"
    )
    prefix_chars: int = Field(
        default=4000, ge=0, le=200_000, description="context budget before the cursor"
    )
    suffix_chars: int = Field(
        default=1000, ge=0, le=200_000, description="context budget after the cursor"
    )
    max_tokens: int = Field(default=128, gt=0, le=4096)
    timeout_ms: int = Field(default=10_000, gt=0, le=120_000)

    def enabled_for(self, language_id: str | None) -> bool:
        if language_id is not None and language_id in self.languages:
            return self.languages[language_id]
        return self.enabled


class EditorSettings(SettingsModel):
    inline_completion: InlineCompletionSettings = Field(default_factory=InlineCompletionSettings)
