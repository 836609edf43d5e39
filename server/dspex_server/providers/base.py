"""The adapter contract: one normalised request in, one response (or a stream) out.

Adapters know nothing of sessions, retries, breakers or stats; those live in the pipeline.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dspex_protocol import (
    AssistantMessage,
    AssistantPart,
    ErrorKind,
    FinishReason,
    ImagePart,
    Message,
    ReasoningConfig,
    ReasoningPart,
    RefusalPart,
    ResponseFormat,
    ServerToolSpec,
    TextPart,
    TokenLogprob,
    ToolCall,
    ToolChoice,
    ToolDefinition,
    Usage,
)

from ..errors import DspexError
from .delta import Delta
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
    server_tools: list[ServerToolSpec] | None = None
    reasoning: ReasoningConfig | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    cached_content: str | None = None
    previous_response_id: str | None = None
    timeout_s: float | None = None
    # Cut a stream silent for this long after its first event (`streamIdleTimeoutMs`).
    stream_idle_timeout_s: float | None = None


# The request options an adapter must map or refuse, by their wire (camelCase) names:
# `Adapter.options` lists those it maps; the pipeline refuses the others (never dropped).
OPTION_FIELDS: dict[str, str] = {
    "server_tools": "serverTools",
    "reasoning": "reasoning",
    "n": "n",
    "logprobs": "logprobs",
    "top_logprobs": "topLogprobs",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
    "parallel_tool_calls": "parallelToolCalls",
    "user": "user",
    "metadata": "metadata",
    "cached_content": "cachedContent",
    "previous_response_id": "previousResponseId",
    "seed": "seed",
    "response_format": "responseFormat",
}
# Option values that ask for nothing are never refused: `n = 1`, `logprobs = false`.
_NEUTRAL: dict[str, object] = {"n": 1, "logprobs": False}


def requested_options(request: ProviderRequest) -> list[str]:
    """The options of OPTION_FIELDS that the request sets (by their field names), plus
    `strict` and `cacheControl` where a tool, message or part asks for them."""
    wanted = [
        name
        for name in OPTION_FIELDS
        if getattr(request, name) is not None and getattr(request, name) != _NEUTRAL.get(name)
    ]
    if name_of_format(request.response_format) == "text":
        wanted.remove("response_format")
    if any(t.strict for t in request.tools or ()):
        wanted.append("strict")
    if any(t.cache_control for t in request.tools or ()) or any(
        m.cache_control is not None or _parts_cached(m) for m in request.messages
    ):
        wanted.append("cache_control")
    return wanted


def _parts_cached(message: Message) -> bool:
    """Whether a part of the message asks for caching (a string content has no parts:
    not built as one just to be asked, on every request)."""
    parts = message.parts if message.parts is not None else message.content
    if not isinstance(parts, list):
        return False
    return any(getattr(p, "cache_control", None) is not None for p in parts)


def name_of_format(fmt: ResponseFormat | None) -> str | None:
    return None if fmt is None else fmt.type


def refuse_unmapped(request: ProviderRequest, mapped: Collection[str], provider: str) -> None:
    """Refuse, with invalid_messages naming them, the options the request sets that the
    provider has no way to honour: an option is mapped or refused, never dropped."""
    unmapped = [name for name in requested_options(request) if name not in mapped]
    if not unmapped:
        return
    wire = [
        OPTION_FIELDS.get(name, {"strict": "tools[].strict"}.get(name, "cacheControl"))
        for name in unmapped
    ]
    raise DspexError(
        ErrorKind.INVALID_MESSAGES,
        f"provider {provider!r} does not support {', '.join(wire)} (model {request.model!r})",
        provider=provider,
        model=request.model,
        details={"unsupported": wire},
    )


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
class ExtraChoice:
    """A choice after the first, where `n` asked for several."""

    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: list[TokenLogprob] | None = None


@dataclass
class ProviderResponse:
    message: AssistantMessage
    finish_reason: FinishReason
    usage: Usage
    model: str
    request_id: str | None = None
    logprobs: list[TokenLogprob] | None = None
    more_choices: list[ExtraChoice] = field(default_factory=list)
    # The provider's id of the response itself (Responses API: what previousResponseId
    # takes), where it differs from the HTTP request id.
    response_id: str | None = None
    # What the result's `notices` should tell (a local model's cost, say).
    notices: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StreamPart:
    """One event of a stream: a delta, and/or the finish reason, usage or model name.
    `index`: the choice the delta and finish reason belong to (with `n` > 1)."""

    delta: Delta | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    model: str | None = None
    request_id: str | None = None
    # Malformed events skipped (not parsed, not forwarded) since the previous part.
    malformed: int = 0
    index: int = 0
    response_id: str | None = None
    notices: list[str] | None = None


@dataclass
class _ToolCallBuffer:
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)
    signature: str | None = None
    item_id: str | None = None


class AnswerBuilder:
    """Assembles an answer's parts in the order they arrive: text, reasoning and refusal
    pieces join the part of their kind they continue; whole parts (server tools, reasoning
    signatures) are placed as they come. Used by the stream accumulator and by adapters
    whose plain answers arrive as blocks."""

    def __init__(self) -> None:
        self.parts: list[AssistantPart] = []
        self._texts: dict[int, list[str]] = {}  # part index -> pieces of a text-like part

    def _extend(self, kind: type[TextPart | ReasoningPart | RefusalPart], piece: str) -> None:
        last = self.parts[-1] if self.parts else None
        open_reasoning = isinstance(last, ReasoningPart) and not (last.signature or last.data)
        if isinstance(last, kind) and (kind is not ReasoningPart or open_reasoning):
            # A whole part given by `part()` has no pieces yet: its text is the first.
            self._texts.setdefault(len(self.parts) - 1, [last.text or ""]).append(piece)
            return
        part: AssistantPart = kind(text="") if kind is not ReasoningPart else ReasoningPart()
        self.parts.append(part)
        self._texts[len(self.parts) - 1] = [piece]

    def text(self, piece: str) -> None:
        if piece:
            self._extend(TextPart, piece)

    def reasoning(self, piece: str) -> None:
        if piece:
            self._extend(ReasoningPart, piece)

    def refusal(self, piece: str) -> None:
        if piece:
            self._extend(RefusalPart, piece)

    def part(self, part: AssistantPart) -> None:
        """A whole part. A reasoning part with no text closes the reasoning block being
        streamed (its signature or opaque data arrive last), else it stands alone. A whole
        part is continued by the pieces of its kind that follow it (a text part that came
        with its provider item id, then its text)."""
        last = self.parts[-1] if self.parts else None
        if (
            isinstance(part, ReasoningPart)
            and part.text is None
            and isinstance(last, ReasoningPart)
            and not (last.signature or last.data)
        ):
            update = {
                k: v
                for k, v in part.model_dump(exclude={"type", "text"}).items()
                if v not in (None, False)
            }
            self.parts[-1] = last.model_copy(update=update)
            return
        self.parts.append(part)

    def build(self) -> list[AssistantPart]:
        return [
            part
            if (pieces := self._texts.get(i)) is None
            else part.model_copy(update={"text": "".join(pieces)})
            for i, part in enumerate(self.parts)
        ]

    def message(self, tool_calls: list[ToolCall] | None = None) -> AssistantMessage:
        return assistant_message(self.build(), tool_calls)


def assistant_message(
    parts: list[AssistantPart], tool_calls: list[ToolCall] | None = None
) -> AssistantMessage:
    """The answer from its parts: `content` the text, `reasoning` the reasoning text, and
    `parts` kept where they say more than the text does."""
    texts = [p.text for p in parts if isinstance(p, TextPart)]
    reasoning = "".join(p.text or "" for p in parts if isinstance(p, ReasoningPart))
    plain = all(isinstance(p, TextPart) for p in parts)
    return AssistantMessage(
        content="".join(texts) if texts else None,  # an empty text part: ""
        reasoning=reasoning or None,
        parts=None if plain else parts,
        tool_calls=tool_calls or None,
    )


class StreamAccumulator:
    """Assembles stream parts into the final response (tool call fragments by index;
    the choices after the first, with `n` > 1, in accumulators of their own)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.text: list[str] = []
        self.answer = AnswerBuilder()
        self.tool_calls: dict[int, _ToolCallBuffer] = {}
        self.logprobs: list[TokenLogprob] = []
        self.finish_reason: FinishReason | None = None
        self.usage: Usage | None = None
        self.request_id: str | None = None
        self.response_id: str | None = None
        self.chunks = 0
        self.malformed = 0  # events skipped because they did not parse
        self.choices: dict[int, StreamAccumulator] = {}
        self.notices: list[str] = []

    def add_text(self, text: str) -> None:
        """Text the client already has (a failed-over stream's prefix)."""
        self.text.append(text)
        self.answer.text(text)

    def add(self, part: StreamPart) -> None:
        self.chunks += 1
        self.malformed += part.malformed
        if part.model:
            self.model = part.model
        if part.request_id:
            self.request_id = part.request_id
        if part.response_id:
            self.response_id = part.response_id
        if part.usage is not None:
            self.usage = part.usage
        target = self
        if part.index:
            target = self.choices.setdefault(part.index, StreamAccumulator(self.model))
        if part.finish_reason is not None:
            target.finish_reason = part.finish_reason
        self.notices += [n for n in part.notices or () if n not in self.notices]
        if part.delta is not None:
            target.add_delta(part.delta)

    def add_delta(self, delta: Delta) -> None:
        if delta.reasoning:
            self.answer.reasoning(delta.reasoning)
        if delta.content:
            self.text.append(delta.content)
            self.answer.text(delta.content)
        if delta.refusal:
            self.answer.refusal(delta.refusal)
        for whole in delta.parts or ():
            self.answer.part(whole)
        if delta.logprobs:
            self.logprobs.extend(delta.logprobs)
        for frag in delta.tool_calls or ():
            buf = self.tool_calls.setdefault(frag.index, _ToolCallBuffer())
            buf.id = buf.id or frag.id
            buf.name = buf.name or frag.name
            buf.signature = buf.signature or frag.signature
            buf.item_id = buf.item_id or frag.item_id
            if frag.arguments:
                buf.arguments.append(frag.arguments)

    @property
    def partial_text(self) -> str:
        return "".join(self.text)

    @property
    def has_reasoning(self) -> bool:
        return any(isinstance(p, ReasoningPart) for p in self.answer.parts)

    def _calls(self, provider: str) -> list[ToolCall]:
        return [
            ToolCall(
                id=buf.id or f"call_{index}",
                name=buf.name or "",
                arguments=parse_tool_arguments("".join(buf.arguments), provider, self.model),
                signature=buf.signature,
                item_id=buf.item_id,
            )
            for index, buf in sorted(self.tool_calls.items())
        ]

    def response(self, provider: str) -> ProviderResponse:
        calls = self._calls(provider)
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        more = []
        for _, other in sorted(self.choices.items()):
            other_calls = other._calls(provider)
            more.append(
                ExtraChoice(
                    message=other.answer.message(other_calls),
                    finish_reason=other.finish_reason or ("tool_calls" if other_calls else "stop"),
                    logprobs=other.logprobs or None,
                )
            )
        return ProviderResponse(
            message=self.answer.message(calls),
            finish_reason=finish,
            usage=self.usage or Usage(),
            model=self.model,
            request_id=self.request_id,
            logprobs=self.logprobs or None,
            more_choices=more,
            response_id=self.response_id,
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


def token_usage(
    prompt: Any,
    completion: Any,
    total: Any = None,
    cached: Any = None,
    cache_write: Any = None,
    reasoning: Any = None,
) -> Usage:
    """Usage from a wire format's token counts (missing counts are 0; total defaults to
    their sum)."""
    p, c = int(prompt or 0), int(completion or 0)
    return Usage(
        prompt_tokens=p,
        completion_tokens=c,
        total_tokens=int(total or p + c),
        cached_tokens=None if cached is None else int(cached),
        cache_write_tokens=None if cache_write is None else int(cache_write),
        reasoning_tokens=None if reasoning is None else int(reasoning),
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
    """One wire format's way of turning a ProviderRequest into an exchange and back.

    `options` names the request options of OPTION_FIELDS (plus `strict`, `cache_control`)
    the adapter maps; `input_parts` the content part types it can send. The pipeline
    refuses a request asking for more before anything is sent."""

    options: ClassVar[frozenset[str]] = frozenset({"seed", "response_format"})
    input_parts: ClassVar[frozenset[str]] = frozenset({"text", "image"})

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec

    def mapped_options(self, model: str) -> frozenset[str]:
        """The options this adapter maps for `model` (per provider or model where the
        wire format's servers differ)."""
        del model
        return self.options

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
