"""The provider request of a chat, and what the pipeline makes of a stream's parts."""

from __future__ import annotations

from dspex_protocol import ChatParams, ErrorKind, Message, Usage

from .errors import DspexError
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


def malformed_notice(count: int) -> str:
    return (
        f"skipped {count} malformed stream event{'s' if count != 1 else ''} "
        "(not parseable); every other event was delivered"
    )


def garbage_stream(error: DspexError, acc: StreamAccumulator) -> DspexError | None:
    """A stream cut that brought nothing but malformed events is an invalid response (the
    provider sends garbage), not a network failure."""
    if not acc.malformed or acc.malformed < acc.chunks or not error.sent_after_answer:
        return None
    return DspexError(
        ErrorKind.INVALID_RESPONSE,
        f"the stream brought only malformed events ({acc.malformed}), then ended",
        provider=error.provider,
        model=error.model,
        details={"malformedEvents": acc.malformed},
    )
