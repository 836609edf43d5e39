"""`dspex/chat`: messages, tools, the chat result and the streamed chunk."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, model_validator

from ._base import WireModel
from .cost import Cost, Truncation
from .errors import ErrorKind

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "interrupted", "error"]


class TextPart(WireModel):
    type: Literal["text"] = "text"
    text: str


class ImagePart(WireModel):
    """An image given by URL or inline as base64 data with its media type."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = Field(default=None, description="base64-encoded bytes")
    mime_type: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ImagePart:
        if (self.url is None) == (self.data is None):
            raise ValueError("an image part needs exactly one of url or data")
        if self.data is not None and not self.mime_type:
            raise ValueError("inline image data needs mimeType")
        return self


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ToolCall(WireModel):
    """A call the model asked for. `arguments` is the parsed JSON object."""

    id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class Message(WireModel):
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = Field(
        default=None, description="For role `tool`: the id of the call this answers."
    )

    @model_validator(mode="after")
    def _role_rules(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs toolCallId")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry toolCalls")
        if self.content is None and not self.tool_calls:
            raise ValueError(f"a {self.role} message needs content")
        return self

    def text(self) -> str:
        """The message's text: the string content, or its text parts joined."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


def _empty_object_schema() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class ToolDefinition(WireModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    description: str | None = None
    parameters: dict[str, JsonValue] = Field(
        default_factory=_empty_object_schema,
        description="A JSON Schema for the arguments object.",
    )


class NamedToolChoice(WireModel):
    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class ResponseFormat(WireModel):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    json_schema: dict[str, JsonValue] | None = Field(default=None, alias="schema")
    strict: bool | None = None


FailoverCause = Literal[
    "rate_limited",
    "server_error",
    "overloaded",
    "timeout",
    "network_error",
    "circuit_open",
    "invalid_response",
    "authentication",
    "context_length",
]


class FallbackTarget(WireModel):
    """A provider/model to try when the ones before it failed (see docs/reliability.md)."""

    provider: str
    model: str | None = Field(default=None, description="unset: the provider's default model")


class ChatParams(WireModel):
    messages: list[Message] = Field(min_length=1)
    provider: str | None = None
    model: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    timeout_ms: int | None = Field(default=None, gt=0)
    stream_idle_timeout_ms: int | None = Field(
        default=None,
        gt=0,
        description="Cut a stream that sends nothing for this long after its first event; "
        "handled as interrupted (resumed where the provider allows it). Default: "
        "`providers.<name>.streamIdleTimeoutMs`.",
    )
    correlation_id: str | None = Field(default=None, max_length=200)
    session_id: str | None = None
    partial_result_token: int | str | None = None
    work_done_token: int | str | None = None
    context_strategy: Literal["truncate", "none"] | None = Field(
        default=None,
        description="When the messages overflow the model's context window: `truncate` drops "
        "the oldest turns (system messages kept), `none` fails with invalid_messages.",
    )
    fallbacks: list[FallbackTarget] | None = Field(
        default=None,
        max_length=8,
        description="Targets tried in order when the request fails over (a `route:NAME` "
        "provider or model names a configured chain instead).",
    )
    failover_on: list[FailoverCause] | None = Field(
        default=None,
        description="Which failures move the request to the next target (default: "
        "rate_limited, server_error, overloaded, timeout, network_error, circuit_open, "
        "context_length where the next target's window is larger).",
    )


class Usage(WireModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


class Attempt(WireModel):
    """One target of a fail-over chain as it was tried: what it cost even when it failed."""

    provider: str
    model: str
    outcome: Literal["answered", "failed", "interrupted", "skipped"]
    error_kind: ErrorKind | None = None
    failover: FailoverCause | None = Field(
        default=None, description="Why the request moved on to the next target."
    )
    requests: int = Field(default=0, description="Requests sent to this target (retries too).")
    usage: Usage | None = None
    cost: Cost | None = None
    latency_ms: float = 0.0


class AssistantMessage(WireModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(WireModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason = "stop"


class ChatResult(WireModel):
    choices: list[Choice]
    usage: Usage
    provider: str
    model: str
    correlation_id: str
    latency_ms: float
    notices: list[str] | None = Field(
        default=None, description="Things the client should know, e.g. a provider fallback."
    )
    error: dict[str, Any] | None = Field(
        default=None,
        description="For an interrupted stream: the ErrorData of what broke it.",
    )
    cost: Cost | None = Field(
        default=None, description="null when the price is unknown: see costUnavailableReason."
    )
    cost_unavailable_reason: str | None = None
    truncation: Truncation | None = None
    attempts: list[Attempt] | None = Field(
        default=None,
        description="With fallbacks or a route: every target tried, in order, the answering "
        "one last; `provider`/`model` name the one that answered.",
    )

    def to_wire(self) -> dict[str, Any]:
        wire = super().to_wire()
        if self.cost is None and self.cost_unavailable_reason is not None:
            wire["cost"] = None  # an explicit null: unknown, never 0
        return wire


class ToolCallDelta(WireModel):
    """A fragment of a streamed tool call; `arguments` is a piece of the JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


class ChatDelta(WireModel):
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class FailoverMark(WireModel):
    """On the first chunk after a stream failed over: `restart` means discard the text
    received so far (the next target answers from the start); `continue` means the next
    target was given that text as an assistant prefix and continues it."""

    provider: str
    model: str
    mode: Literal["restart", "continue"]
    reason: FailoverCause


class ChatChunk(WireModel):
    """The value of each `$/progress` sent on a chat's `partialResultToken`."""

    correlation_id: str
    index: int = 0
    delta: ChatDelta
    finish_reason: FinishReason | None = None
    failover: FailoverMark | None = None
