"""The provider request of a chat, and what the pipeline makes of a stream's parts."""

from __future__ import annotations

from dspex_protocol import ChatParams, Message, Usage

from .providers.base import ProviderRequest, ProviderResponse, StreamAccumulator


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
        timeout_s=params.timeout_ms / 1000 if params.timeout_ms else None,
    )


def interrupted(acc: StreamAccumulator, provider: str) -> ProviderResponse:
    response = acc.response(provider)
    response.finish_reason = "interrupted"
    return response


def add_usage(a: Usage | None, b: Usage) -> Usage:
    if a is None:
        return b
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        total_tokens=a.total_tokens + b.total_tokens,
    )
