"""Editor features over standard LSP: the acceptance stats of inline completions
(`dspex/analytics/inlineCompletion`) and the `dspex/inlineCompletion/didShow` notification
an editor sends when it shows one (like the Copilot server's `didShowCompletion`)."""

from __future__ import annotations

from pydantic import Field

from ._base import WireModel


class InlineCompletionShown(WireModel):
    """Params of `dspex/inlineCompletion/didShow`: the `id` is the item's
    `command.arguments[0]` in the `textDocument/inlineCompletion` answer."""

    id: str = Field(min_length=1, max_length=200)


class InlineCompletionCounts(WireModel):
    offered: int = Field(default=0, description="completions answered with an item")
    shown: int = Field(default=0, description="items the editor reported as shown")
    accepted: int = Field(default=0, description="items accepted (their command ran)")
    cancelled: int = Field(default=0, description="requests superseded by a newer one")
    failed: int = Field(default=0, description="requests the provider failed")
    accept_rate: float | None = Field(
        default=None, description="accepted / shown (offered where nothing was reported shown)"
    )


class InlineCompletionStatsParams(WireModel):
    pass


class InlineCompletionStatsResult(WireModel):
    total: InlineCompletionCounts
    by_language: dict[str, InlineCompletionCounts] = Field(default_factory=dict)
    by_provider: dict[str, InlineCompletionCounts] = Field(default_factory=dict)
    mean_latency_ms: float | None = Field(
        default=None, description="mean time from request to answer, debounce included"
    )
