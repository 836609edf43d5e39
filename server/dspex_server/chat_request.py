"""The provider request of a chat, what one adapter can be sent of it, and what the
pipeline makes of a stream's parts."""

from __future__ import annotations

import dataclasses

from dspex_protocol import (
    ASSISTANT_ONLY_PARTS,
    AssistantMessage,
    ChatParams,
    Choice,
    ContentPart,
    ErrorKind,
    Message,
    ReasoningPart,
    ServerToolPart,
    TextPart,
    Usage,
)

from .catalog.data import lookup
from .errors import DspexError
from .providers.base import (
    Adapter,
    ProviderRequest,
    ProviderResponse,
    StreamAccumulator,
    refuse_unmapped,
)

REASONING = "reasoning"


def provider_request(params: ChatParams, model: str, messages: list[Message]) -> ProviderRequest:
    return ProviderRequest(
        model=model,
        messages=messages,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        top_p=params.top_p,
        stop=params.stop,
        seed=params.seed,
        tools=params.tools,
        tool_choice=params.tool_choice,
        response_format=params.response_format,
        server_tools=params.server_tools,
        reasoning=params.reasoning,
        n=params.n,
        logprobs=params.logprobs,
        top_logprobs=params.top_logprobs,
        frequency_penalty=params.frequency_penalty,
        presence_penalty=params.presence_penalty,
        parallel_tool_calls=params.parallel_tool_calls,
        user=params.user,
        metadata=params.metadata,
        cached_content=params.cached_content,
        previous_response_id=params.previous_response_id,
        timeout_s=params.timeout_ms / 1000 if params.timeout_ms else None,
    )


def fit_request(adapter: Adapter, request: ProviderRequest) -> ProviderRequest:
    """The request as `adapter` can send it, or invalid_messages before anything is sent:
    options it cannot map and content parts it cannot send are refused, reasoning on a
    model the catalog knows cannot reason is refused. Parts only the provider that made
    them can read (reasoning, server-tool results) are left out of the history sent to
    another provider."""
    provider, model = adapter.name, request.model
    if request.reasoning is not None:
        entry = lookup(provider, model)
        if entry is not None and REASONING not in entry.capabilities:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"model {model!r} of {provider!r} cannot reason (per the model catalog); "
                "leave `reasoning` out or choose a reasoning model",
                provider=provider,
                model=model,
            )
    refuse_unmapped(request, adapter.mapped_options(model), provider)
    messages = [_fit_message(m, adapter, model) for m in request.messages]
    if all(a is b for a, b in zip(messages, request.messages, strict=True)):
        return request
    return dataclasses.replace(request, messages=messages)


def _fit_message(message: Message, adapter: Adapter, model: str) -> Message:
    if message.parts is None and not isinstance(message.content, list):
        return message
    accepted = adapter.input_parts
    kept: list[ContentPart] = []
    for part in message.content_parts():
        if part.type in ASSISTANT_ONLY_PARTS:
            own = getattr(part, "provider", None) in (None, adapter.name)
            if part.type in accepted and own:
                kept.append(part)
            continue  # another provider's reasoning cannot be checked: not sent
        if part.type not in accepted:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"provider {adapter.name!r} does not accept {part.type} parts",
                provider=adapter.name,
                model=model,
            )
        kept.append(part)
    if message.parts is None and len(kept) == len(message.content or ()):
        return message
    content: str | list[ContentPart]
    if all(isinstance(p, TextPart) and p.cache_control is None for p in kept):
        content = "".join(p.text for p in kept if isinstance(p, TextPart))
    else:
        content = kept
    return message.model_copy(update={"content": content, "parts": None, "reasoning": None})


def stamp_provider(message: AssistantMessage, provider: str) -> AssistantMessage:
    """Reasoning and server-tool parts name the provider that made them: they are sent
    back to that provider only."""
    if not message.parts:
        return message
    parts = [
        p.model_copy(update={"provider": provider})
        if isinstance(p, ReasoningPart | ServerToolPart) and p.provider is None
        else p
        for p in message.parts
    ]
    return message.model_copy(update={"parts": parts})


def choices(response: ProviderResponse, provider: str) -> list[Choice]:
    first = Choice(
        index=0,
        message=stamp_provider(response.message, provider),
        finish_reason=response.finish_reason,
        logprobs=response.logprobs,
    )
    return [first] + [
        Choice(
            index=i,
            message=stamp_provider(extra.message, provider),
            finish_reason=extra.finish_reason,
            logprobs=extra.logprobs,
        )
        for i, extra in enumerate(response.more_choices, start=1)
    ]


def can_continue(request: ProviderRequest) -> bool:
    """Whether a broken answer may be continued from its text as an assistant prefill:
    not with reasoning on (providers refuse a prefill with thinking, and the reasoning
    would be lost), not with several choices."""
    return request.reasoning is None and (request.n or 1) == 1


def interrupted(acc: StreamAccumulator, provider: str) -> ProviderResponse:
    response = acc.response(provider)
    response.finish_reason = "interrupted"
    return response


def add_usage(a: Usage | None, b: Usage) -> Usage:
    if a is None:
        return b
    optional = {
        name: None if x is None and y is None else (x or 0) + (y or 0)
        for name in ("cached_tokens", "cache_write_tokens", "reasoning_tokens")
        for x, y in [(getattr(a, name), getattr(b, name))]
    }
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
        **optional,
    )
