"""Content parts of messages: what a user sends (text, images, documents, audio) and what
an assistant answers besides its text (reasoning, server-side tool use, refusals).

An assistant answer's `parts` are sent back unchanged in the next turn's history: they
carry the opaque reasoning signatures and server-tool results that providers require to
continue a conversation with thinking and tools on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue, model_validator

from ._base import WireModel


class CacheControl(WireModel):
    """A prompt-cache breakpoint: the prompt up to and including this message, part or
    tool is cached (Anthropic `cache_control`, Bedrock `cachePoint`). Providers that cache
    automatically (OpenAI, Gemini implicit caching) report cached tokens without it."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | None = Field(
        default=None, description="How long the entry lives (Anthropic); unset: 5 minutes."
    )


class _Sourced(WireModel):
    """A part given by URL or inline as base64 data with its media type."""

    url: str | None = None
    data: str | None = Field(default=None, description="base64-encoded bytes")
    mime_type: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> _Sourced:
        kind = type(self).__name__.removesuffix("Part").lower()
        article = "an" if kind[0] in "aeiou" else "a"
        if (self.url is None) == (self.data is None):
            raise ValueError(f"{article} {kind} part needs exactly one of url or data")
        if self.data is not None and not self.mime_type:
            raise ValueError(f"inline {kind} data needs mimeType")
        return self


class TextPart(WireModel):
    type: Literal["text"] = "text"
    text: str
    cache_control: CacheControl | None = None
    id: str | None = Field(
        default=None,
        description="In an answer: the provider's id of the output item the text came in "
        "(Responses API message item), sent back with it.",
    )


class ImagePart(_Sourced):
    """An image given by URL or inline as base64 data with its media type."""

    type: Literal["image"] = "image"
    cache_control: CacheControl | None = None


class DocumentPart(_Sourced):
    """A document (PDF, plain text, ...) by URL or inline base64 data; `mimeType` names
    its format (`application/pdf`, `text/plain`, ...)."""

    type: Literal["document"] = "document"
    name: str | None = Field(default=None, description="A file name or title, where asked.")
    cache_control: CacheControl | None = None


class AudioPart(_Sourced):
    """Audio input by URL or inline base64 data (`audio/wav`, `audio/mpeg`, ...)."""

    type: Literal["audio"] = "audio"


class ReasoningPart(WireModel):
    """The model's reasoning (thinking) before or between its answer's other parts.

    `text` is the reasoning as the provider shows it (`summary`: a summary of it, as
    OpenAI's and Gemini's are). `signature` (Anthropic, Bedrock, Gemini) and `data`
    (redacted thinking, OpenAI's encrypted reasoning) are opaque: send them back unchanged
    in the history, to the same provider, which checks them. `provider` is set by the
    daemon: reasoning is never sent to another provider than the one that produced it."""

    type: Literal["reasoning"] = "reasoning"
    text: str | None = None
    summary: bool = False
    signature: str | None = None
    data: str | None = Field(
        default=None, description="Opaque reasoning (redacted or encrypted), sent back as is."
    )
    id: str | None = Field(default=None, description="The provider's item id (Responses API).")
    format: str | None = Field(
        default=None,
        description="The provider's tag for the reasoning's origin (OpenRouter's "
        "`reasoning_details` format, e.g. `anthropic-claude-v1`), sent back as is.",
    )
    provider: str | None = None


class ServerToolPart(WireModel):
    """A tool the provider ran itself (web search, code execution, web fetch, MCP, ...):
    a result to read, never a call for the client to run."""

    type: Literal["server_tool"] = "server_tool"
    id: str
    name: str
    input: JsonValue = Field(default_factory=dict)
    output: JsonValue = Field(default=None, description="The tool's result as sent.")
    result_type: str | None = Field(
        default=None, description="The provider's type of the result block, sent back as is."
    )
    is_error: bool = False
    provider: str | None = None


class RefusalPart(WireModel):
    """The model declined to answer (OpenAI `refusal`)."""

    type: Literal["refusal"] = "refusal"
    text: str


ContentPart = Annotated[
    TextPart | ImagePart | DocumentPart | AudioPart | ReasoningPart | ServerToolPart | RefusalPart,
    Field(discriminator="type"),
]
AssistantPart = Annotated[
    TextPart | ReasoningPart | ServerToolPart | RefusalPart, Field(discriminator="type")
]
ASSISTANT_ONLY_PARTS = frozenset({"reasoning", "server_tool", "refusal"})
