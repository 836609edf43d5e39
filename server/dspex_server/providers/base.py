"""The adapter contract: one normalised request in, one response (or a stream) out.

Adapters know nothing of sessions, retries, breakers or stats; those live in the pipeline.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from dspex_protocol import (
    AssistantMessage,
    ChatDelta,
    ErrorKind,
    FinishReason,
    Message,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)

from ..errors import DspexError
from .table import ProviderSpec


@dataclass
class ProviderRequest:
    """A chat request with provider and model resolved and defaults applied."""

    model: str
    messages: list[Message]
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    timeout_s: float | None = None


@dataclass
class EmbedRequest:
    model: str
    inputs: list[str]
    dimensions: int | None = None
    input_type: str | None = None
    timeout_s: float | None = None


@dataclass
class EmbedResponse:
    embeddings: list[list[float]]
    model: str
    prompt_tokens: int = 0


@dataclass
class ModelListing:
    """One model as a provider's live models endpoint reports it."""

    id: str
    owned_by: str | None = None
    display_name: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: frozenset[str] = frozenset()


@dataclass
class ProviderResponse:
    message: AssistantMessage
    finish_reason: FinishReason
    usage: Usage
    model: str
    request_id: str | None = None


@dataclass
class StreamPart:
    """One event of a stream: a delta, and/or the finish reason, usage or model name."""

    delta: ChatDelta | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    model: str | None = None
    request_id: str | None = None


@dataclass
class _ToolCallBuffer:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


class StreamAccumulator:
    """Assembles stream parts into the final response (tool call fragments by index)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text: list[str] = []
        self.tool_calls: dict[int, _ToolCallBuffer] = {}
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.request_id: str | None = None
        self.chunks = 0

    def add(self, part: StreamPart) -> None:
        self.chunks += 1
        if part.model:
            self.model = part.model
        if part.request_id:
            self.request_id = part.request_id
        if part.usage is not None:
            self.usage = part.usage
        if part.finish_reason is not None:
            self.finish_reason = part.finish_reason
        if part.delta is None:
            return
        if part.delta.content:
            self.text.append(part.delta.content)
        for frag in part.delta.tool_calls or ():
            buf = self.tool_calls.setdefault(frag.index, _ToolCallBuffer())
            buf.id = buf.id or frag.id
            buf.name = buf.name or frag.name
            if frag.arguments:
                buf.arguments.append(frag.arguments)

    @property
    def partial_text(self) -> str:
        return "".join(self.text)

    def response(self, provider: str) -> ProviderResponse:
        calls = [
            ToolCall(
                id=buf.id or f"call_{index}",
                name=buf.name or "",
                arguments=parse_tool_arguments("".join(buf.arguments), provider, self.model),
            )
            for index, buf in sorted(self.tool_calls.items())
        ]
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        return ProviderResponse(
            message=AssistantMessage(content=self.partial_text or None, tool_calls=calls or None),
            finish_reason=finish,
            usage=self.usage or Usage(),
            model=self.model,
            request_id=self.request_id,
        )


def parse_tool_arguments(raw: str, provider: str, model: str) -> dict[str, object]:
    """Tool-call arguments arrive as JSON text on most wire formats; an object is required."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise DspexError(
            ErrorKind.INVALID_RESPONSE,
            "tool call arguments are not valid JSON",
            provider=provider,
            model=model,
        ) from None
    if not isinstance(value, dict):
        raise DspexError(
            ErrorKind.INVALID_RESPONSE,
            "tool call arguments are not a JSON object",
            provider=provider,
            model=model,
        )
    return value


class Adapter(ABC):
    """One wire format's way of turning a ProviderRequest into an exchange and back."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    async def chat(self, request: ProviderRequest) -> ProviderResponse: ...

    @abstractmethod
    def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        """Yield parts as they arrive. Closing the iterator closes the provider stream."""

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        """Embeddings; wire formats that offer them override this."""
        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"provider {self.name!r} does not offer embeddings",
            provider=self.name,
            model=request.model,
        )

    async def list_models(self) -> list[ModelListing]:
        """The provider's live model list; wire formats with a models endpoint override it."""
        raise DspexError(
            ErrorKind.UNSUPPORTED_PROVIDER,
            f"provider {self.name!r} has no models endpoint",
            provider=self.name,
        )

    async def aclose(self) -> None:  # noqa: B027 - adapters without resources need nothing
        """Release pooled connections."""
