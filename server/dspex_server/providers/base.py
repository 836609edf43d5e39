"""The adapter contract: one normalised request in, one response (or a stream) out.

Adapters know nothing of sessions, retries, breakers or stats; those live in the pipeline.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from dspex_protocol import (
    AssistantMessage,
    ChatDelta,
    ErrorKind,
    FinishReason,
    ImagePart,
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
    # Cut a stream silent for this long after its first event (`streamIdleTimeoutMs`).
    stream_idle_timeout_s: float | None = None


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
    # What the result's `notices` should tell (a local model's cost, say).
    notices: list[str] = field(default_factory=list)


@dataclass
class StreamPart:
    """One event of a stream: a delta, and/or the finish reason, usage or model name."""

    delta: ChatDelta | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    model: str | None = None
    request_id: str | None = None
    # Malformed events skipped (not parsed, not forwarded) since the previous part.
    malformed: int = 0
    notices: list[str] | None = None


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
        self.malformed = 0  # events skipped because they did not parse
        self.notices: list[str] = []

    def add(self, part: StreamPart) -> None:
        self.chunks += 1
        self.malformed += part.malformed
        if part.model:
            self.model = part.model
        if part.request_id:
            self.request_id = part.request_id
        if part.usage is not None:
            self.usage = part.usage
        if part.finish_reason is not None:
            self.finish_reason = part.finish_reason
        self.notices += [n for n in part.notices or () if n not in self.notices]
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
            notices=list(self.notices),
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


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that are set: optional request fields are left out, not sent as null."""
    return {k: v for k, v in values.items() if v is not None}


def token_usage(prompt: Any, completion: Any, total: Any = None, cached: Any = None) -> Usage:
    """Usage from a wire format's token counts (missing counts are 0; total defaults to
    their sum)."""
    p, c = int(prompt or 0), int(completion or 0)
    return Usage(
        prompt_tokens=p,
        completion_tokens=c,
        total_tokens=int(total or p + c),
        cached_tokens=None if cached is None else int(cached),
    )


def new_tool_call_id() -> str:
    """An id for a tool call whose wire format sends none (Ollama, older servers)."""
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_call_names(messages: list[Message]) -> dict[str, str]:
    """Tool-result messages carry only the call id; formats that address results by tool
    name (Ollama's `tool_name`) look the name up among the assistant's earlier calls."""
    return {
        call.id: call.name
        for message in messages
        if message.tool_calls
        for call in message.tool_calls
    }


def inline_image(part: ImagePart, provider: str, model: str) -> tuple[str, str]:
    """(media type, base64 data) of an image, for formats that take only inline bytes.
    `data:` URLs are unpacked; a remote URL cannot be sent and is refused."""
    if part.data is not None:
        mime, data = part.mime_type or "application/octet-stream", part.data
    elif part.url is not None and part.url.startswith("data:") and "," in part.url:
        header, data = part.url[5:].split(",", 1)
        mime = header.split(";", 1)[0] or "application/octet-stream"
        if not header.endswith(";base64"):
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                "an image data URL must be base64-encoded",
                provider=provider,
                model=model,
            )
    else:
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            f"provider {provider!r} takes images inline only (base64 data or a data: URL)",
            provider=provider,
            model=model,
        )
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            "image data is not valid base64",
            provider=provider,
            model=model,
        ) from None
    return mime, data


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

    def known_context_window(self, model: str) -> int | None:
        """A context window the adapter knows first-hand (a loaded local model's)."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - adapters without resources need nothing
        """Release pooled connections."""
