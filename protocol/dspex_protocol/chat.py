"""`dspex/chat`: messages, tools, the chat result and the streamed chunk."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, JsonValue, model_validator

from ._base import WireModel
from .content import (
    ASSISTANT_ONLY_PARTS,
    AssistantPart,
    CacheControl,
    ContentPart,
    TextPart,
)
from .cost import Cost, Truncation
from .errors import ErrorKind

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "interrupted", "error"]


class ToolCall(WireModel):
    """A call the model asked for. `arguments` is the parsed JSON object."""

    id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    signature: str | None = Field(
        default=None,
        description="Gemini's thought signature of this call: sent back unchanged with it.",
    )
    item_id: str | None = Field(
        default=None,
        description="The provider's id of the call's output item where it differs from the "
        "call id (Responses API `fc_...`): sent back unchanged with it.",
    )


class Message(WireModel):
    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = Field(
        default=None, description="For role `tool`: the id of the call this answers."
    )
    parts: list[ContentPart] | None = Field(
        default=None,
        description="An earlier answer's `parts`, sent back unchanged (reasoning signatures, "
        "server-tool results); when given, they are the message's content and `content` is "
        "not sent again.",
    )
    reasoning: str | None = Field(
        default=None,
        description="An earlier answer's reasoning text: accepted so that an answer can be "
        "appended to the history as it came, never sent to a provider (only signed "
        "reasoning in `parts` is).",
    )
    cache_control: CacheControl | None = Field(
        default=None, description="A prompt-cache breakpoint after this message."
    )

    @model_validator(mode="after")
    def _role_rules(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs toolCallId")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry toolCalls")
        if self.content is None and not self.tool_calls and not self.parts:
            raise ValueError(f"a {self.role} message needs content")
        if self.role != "assistant":
            if self.parts is not None:
                raise ValueError("only assistant messages carry parts")
            kinds = {p.type for p in self.content} if isinstance(self.content, list) else set()
            if kinds & ASSISTANT_ONLY_PARTS:
                raise ValueError(
                    f"{', '.join(sorted(kinds & ASSISTANT_ONLY_PARTS))} parts belong to "
                    "assistant messages"
                )
        return self

    def content_parts(self) -> list[ContentPart]:
        """The message's content as parts: `parts` where given, else the content (a string
        is one text part; an empty one, none)."""
        if self.parts is not None:
            return list(self.parts)
        if self.content is None:
            return []
        if isinstance(self.content, str):
            return [TextPart(text=self.content)] if self.content else []
        return list(self.content)

    def text(self) -> str:
        """The message's text: the string content, or its text parts joined."""
        if self.parts is None and isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content_parts() if isinstance(p, TextPart))


def _empty_object_schema() -> dict[str, JsonValue]:
    return {"type": "object", "properties": {}}


class ToolDefinition(WireModel):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    description: str | None = None
    parameters: dict[str, JsonValue] = Field(
        default_factory=_empty_object_schema,
        description="A JSON Schema for the arguments object.",
    )
    strict: bool | None = Field(
        default=None,
        description="Ask the provider to constrain the arguments to the schema exactly "
        "(OpenAI, Anthropic and Bedrock structured tool use); refused where it has no such "
        "switch.",
    )
    cache_control: CacheControl | None = Field(
        default=None, description="A prompt-cache breakpoint after the tool definitions."
    )


class ServerToolSpec(WireModel):
    """A tool the provider runs itself, asked for by its common name (`web_search`,
    `code_execution`, `web_fetch`, `file_search`, `url_context`, `mcp`, ...); each adapter
    maps the names its provider has and refuses the others. `config` holds the provider's
    own options for that tool (e.g. Anthropic `max_uses`, an MCP server's URL), sent as
    given. Its calls and results come back as `server_tool` parts, never as toolCalls."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    config: dict[str, JsonValue] = Field(default_factory=dict)


class ReasoningConfig(WireModel):
    """Ask the model to reason before it answers. `effort` and `budgetTokens` are mapped
    per provider (OpenAI `reasoning_effort`, Anthropic `thinking.budget_tokens`, Gemini
    `thinkingConfig`, Bedrock's model fields); `{}` turns reasoning on at the provider's
    default. Refused (`invalid_messages`) for a model the catalog knows cannot reason."""

    effort: Literal["low", "medium", "high"] | None = None
    budget_tokens: int | None = Field(
        default=None,
        ge=0,
        description="Tokens the model may spend on reasoning (0: off, where the model allows it).",
    )
    summary: Literal["auto", "concise", "detailed"] | None = Field(
        default=None,
        description="Ask for a reasoning summary where the provider offers one (OpenAI "
        "Responses); providers that return their thinking text do so regardless.",
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
    server_tools: list[ServerToolSpec] | None = Field(
        default=None, description="Tools the provider runs itself (see ServerToolSpec)."
    )
    reasoning: ReasoningConfig | None = None
    n: int | None = Field(default=None, ge=1, le=16, description="How many choices to generate.")
    logprobs: bool | None = Field(default=None, description="Return token log probabilities.")
    top_logprobs: int | None = Field(
        default=None, ge=0, le=20, description="Alternatives per token, with `logprobs`."
    )
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    parallel_tool_calls: bool | None = Field(
        default=None, description="Whether the model may call several tools in one answer."
    )
    user: str | None = Field(
        default=None, max_length=256, description="An end-user id passed to the provider."
    )
    metadata: dict[str, str] | None = Field(
        default=None, description="Key-value tags passed to the provider where it takes them."
    )
    cached_content: str | None = Field(
        default=None,
        description="Gemini: the name of a cached content (`cachedContents/...`) holding "
        "the prompt's prefix.",
    )
    previous_response_id: str | None = Field(
        default=None,
        description="OpenAI Responses API: continue from a stored response (its result's "
        "`responseId`) instead of resending the history.",
    )
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
    cached_tokens: int | None = Field(
        default=None, description="Prompt tokens read from the provider's prompt cache."
    )
    cache_write_tokens: int | None = Field(
        default=None,
        description="Prompt tokens written to the prompt cache (billed at the write price).",
    )
    reasoning_tokens: int | None = Field(
        default=None, description="Completion tokens spent on reasoning (included)."
    )


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
    """An answer. `content` is its text; `reasoning` the reasoning text; `parts` the whole
    answer in order (text, reasoning with its signatures, server-tool results, refusals),
    present when it holds more than text. Append the message to the next request's
    history as it is: its `parts` carry what the provider needs back."""

    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning: str | None = None
    parts: list[AssistantPart] | None = None
    tool_calls: list[ToolCall] | None = None


class TopLogprob(WireModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(WireModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] | None = None


class Choice(WireModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason = "stop"
    logprobs: list[TokenLogprob] | None = None


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
    response_id: str | None = Field(
        default=None,
        description="The provider's id of this response (with the OpenAI Responses API, "
        "what `previousResponseId` takes).",
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
    signature: str | None = None
    item_id: str | None = None


class ChatDelta(WireModel):
    """A piece of a streamed answer: text (`content`), reasoning text (`reasoning`) and
    refusal text arrive token by token; `parts` are whole parts that are not streamed as
    text (a server-tool result, the signature or opaque data closing a reasoning block, an
    empty text part carrying the provider's item id of the text that follows it).
    A delta that sets several fields says them in this order: `reasoning`, `content`,
    `refusal`, `parts`, `logprobs`, `toolCalls` (read it in that order). In `toolCalls`,
    the first fragment of an `index` that names an id or a name gives it; `arguments`
    pieces of one index join in order. The final result holds the whole answer,
    assembled."""

    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    parts: list[AssistantPart] | None = None
    logprobs: list[TokenLogprob] | None = None


class FailoverMark(WireModel):
    """On the first chunk after a stream failed over: `restart` means discard the text
    received so far (the next target answers from the start); `continue` means the next
    target was given that text as an assistant prefix and continues it."""

    provider: str
    model: str
    mode: Literal["restart", "continue"]
    reason: FailoverCause


class ChatChunk(WireModel):
    """The value of each `$/progress` sent on a chat's `partialResultToken`. The provider's
    deltas that reach the daemon together (one network read, one event-loop pass) leave as
    one chunk per choice, merged where the field order keeps their sequence (`"Hel"` then
    `"lo"`: `content: "Hello"`; reasoning then content: one delta with both; content then
    reasoning: two chunks). Nothing is dropped or reordered within a choice; chunks of
    different choices (`index`) may interleave differently than the provider sent them."""

    correlation_id: str
    index: int = 0
    delta: ChatDelta
    finish_reason: FinishReason | None = None
    failover: FailoverMark | None = None
