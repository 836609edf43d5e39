"""Editor features over standard LSP: the acceptance stats of inline completions
(`dspex/analytics/inlineCompletion`), the `dspex/inlineCompletion/didShow` notification
an editor sends when it shows one (like the Copilot server's `didShowCompletion`), and the
arguments and results of the `dspex.chat` and `dspex.explain` commands."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ._base import WireModel
from .chat import Usage


class InlineCompletionShown(WireModel):
    """Params of `dspex/inlineCompletion/didShow`: the `id` is the item's
    `command.arguments[0]` in the `textDocument/inlineCompletion` answer."""

    id: str = Field(min_length=1, max_length=200)


class InlineCompletionAccepted(WireModel):
    """The result of `dspex.inlineCompletion.accept` (the item's own command)."""

    accepted: bool = Field(description="false: unknown id, or counted already")


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


# -- workspace/executeCommand: dspex.chat, dspex.explain ------------------------------------

ShowAs = Literal["auto", "message", "document", "none"]


class CommandOptions(WireModel):
    provider: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    show: ShowAs = Field(
        default="auto",
        description="auto: a short answer as `window/showMessage`, a long one as a markdown "
        "file opened with `window/showDocument` (where the client supports it); none: only "
        "the command's result (for recipes that render it themselves).",
    )


class ChatCommandArgs(CommandOptions):
    """`dspex.chat`'s argument: this object, or the prompt alone as a string."""

    prompt: str = Field(min_length=1, max_length=200_000)
    system: str | None = Field(default=None, max_length=20_000)


class TextPosition(WireModel):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class LineRange(WireModel):
    """LSP positions (zero-based line and UTF-16 character)."""

    start: TextPosition
    end: TextPosition


class ExplainCommandArgs(CommandOptions):
    """`dspex.explain`'s argument: a document (`uri`, as the editor synced it, or `path`,
    relative to the workspace root) with a `range` (LSP) or 1-based `startLine`/`endLine`
    (Helix's `%{selection_line_start}`); or the `text` itself. No range: the whole document."""

    uri: str | None = Field(default=None, max_length=4000)
    path: str | None = Field(default=None, max_length=4000)
    range: LineRange | None = None
    start_line: int | None = Field(default=None, ge=1)
    end_line: int | None = Field(default=None, ge=1)
    text: str | None = Field(default=None, min_length=1, max_length=200_000)
    language: str | None = Field(
        default=None, max_length=100, description="default: the document's languageId"
    )
    question: str | None = Field(
        default=None, max_length=20_000, description="what to explain (default: the whole)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> ExplainCommandArgs:
        given = [x is not None for x in (self.uri, self.path, self.text)]
        if sum(given) != 1:
            raise ValueError("give exactly one of uri, path or text")
        if self.text is not None and (self.range or self.start_line or self.end_line):
            raise ValueError("a range or lines select from a document: not with text")
        if self.range is not None and (self.start_line or self.end_line):
            raise ValueError("give range or startLine/endLine, not both")
        return self


class CommandAnswer(WireModel):
    """The result of `dspex.chat` and `dspex.explain`."""

    text: str
    shown: Literal["message", "document", "none"] = Field(
        description="how the answer was shown to the user"
    )
    uri: str | None = Field(default=None, description="the markdown file shown, if any")
    provider: str
    model: str
    usage: Usage | None = None
