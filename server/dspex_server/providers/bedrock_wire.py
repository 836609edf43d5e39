"""Bedrock's Converse answers: response parsing (text, reasoning, built-in tool results,
citations), usage, stop reasons and the error
names (HTTP `x-amzn-ErrorType` and ConverseStream exception events) mapped to dspex kinds."""

from __future__ import annotations

from typing import Any

from dspex_protocol import (
    AssistantMessage,
    ErrorKind,
    FinishReason,
    ReasoningPart,
    ServerToolPart,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import AnswerBuilder, token_usage
from .bedrock_request import CITATIONS_RESULT, SERVER_TOOL_USE

GROUNDING = "nova_grounding"

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}

# Exception name -> (kind, retryable). Names arrive as `ThrottlingException` in the
# x-amzn-ErrorType header and as `throttlingException` in stream exception events.
ERRORS: dict[str, tuple[ErrorKind, bool]] = {
    "ThrottlingException": (ErrorKind.RATE_LIMITED, True),
    "ServiceQuotaExceededException": (ErrorKind.RATE_LIMITED, False),
    "ValidationException": (ErrorKind.INVALID_MESSAGES, False),
    "AccessDeniedException": (ErrorKind.AUTHENTICATION, False),
    "UnrecognizedClientException": (ErrorKind.AUTHENTICATION, False),
    "InvalidSignatureException": (ErrorKind.AUTHENTICATION, False),
    "ExpiredTokenException": (ErrorKind.AUTHENTICATION, False),
    "ResourceNotFoundException": (ErrorKind.API_ERROR, False),
    "ModelErrorException": (ErrorKind.API_ERROR, False),
    "ServiceUnavailableException": (ErrorKind.API_ERROR, True),
    "ModelNotReadyException": (ErrorKind.API_ERROR, True),
    "InternalServerException": (ErrorKind.API_ERROR, True),
    "ModelStreamErrorException": (ErrorKind.API_ERROR, True),
    "ModelTimeoutException": (ErrorKind.TIMEOUT, True),
}


def error_name(raw: str | None) -> str | None:
    """`ValidationException:http://internal.amazon.com/...` -> `ValidationException`;
    `throttlingException` -> `ThrottlingException`."""
    if not raw:
        return None
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:] if name else None


def parse_usage(raw: Any) -> Usage | None:
    """Converse's inputTokens leave out the prompt tokens read from or written to the
    cache (its totalTokens counts them): promptTokens includes both, as Chat Completions
    counts them."""
    if not isinstance(raw, dict):
        return None
    read, write = raw.get("cacheReadInputTokens"), raw.get("cacheWriteInputTokens")
    prompt = int(raw.get("inputTokens") or 0) + int(read or 0) + int(write or 0)
    return token_usage(prompt, raw.get("outputTokens"), raw.get("totalTokens"), read, write)


def stop_reason(raw: Any, has_calls: bool) -> FinishReason:
    """Nova's built-in tools end a turn with `tool_use` too: without a call for the
    client to run, the answer is complete."""
    if raw == "tool_use" and not has_calls:
        return "stop"
    return STOP_REASONS.get(str(raw), "tool_calls" if has_calls else "stop")


def reasoning_part(block: dict[str, Any]) -> ReasoningPart | None:
    """A reasoningContent block: its text and signature, or redacted (opaque) content."""
    if "redactedContent" in block:
        return ReasoningPart(data=str(block["redactedContent"]))
    text = block.get("reasoningText")
    if not isinstance(text, dict):
        return None
    return ReasoningPart(text=str(text.get("text") or ""), signature=text.get("signature"))


def server_tool_part(use: dict[str, Any], result: dict[str, Any] | None) -> ServerToolPart:
    """A built-in tool's toolUse (type server_tool_use) with the toolResult that follows."""
    return ServerToolPart(
        id=str(use.get("toolUseId")),
        name=str(use.get("name")),
        input=use.get("input") if isinstance(use.get("input"), dict) else {},
        output=None if result is None else result.get("content"),
        result_type=None if result is None else result.get("type"),
        is_error=result is not None and result.get("status") == "error",
    )


def citations_part(index: int, citations: Any) -> ServerToolPart:
    """The citations of a grounded answer (Nova web grounding): its sources, kept beside
    the text they support."""
    return ServerToolPart(
        id=f"citations_{index}",
        name=GROUNDING,
        output=citations,
        result_type=CITATIONS_RESULT,
    )


def parse_converse(payload: Any, provider: str, model: str) -> tuple[AssistantMessage, Any]:
    """The assistant message and raw stopReason of a Converse answer."""

    def invalid(what: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_RESPONSE, what, provider=provider, model=model)

    if not isinstance(payload, dict):
        raise invalid("the response is not a JSON object")
    message = (payload.get("output") or {}).get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise invalid("the response has no output.message.content")
    answer = AnswerBuilder()
    calls: list[ToolCall] = []
    blocks = message["content"]
    results = {
        b["toolResult"].get("toolUseId"): b["toolResult"]
        for b in blocks
        if isinstance(b, dict) and isinstance(b.get("toolResult"), dict)
    }
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise invalid("a content block is not an object")
        if isinstance(block.get("text"), str):
            answer.text(block["text"])
        elif isinstance(block.get("reasoningContent"), dict):
            part = reasoning_part(block["reasoningContent"])
            if part is not None:
                answer.part(part)
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            if use.get("type") == SERVER_TOOL_USE:
                answer.part(server_tool_part(use, results.get(use.get("toolUseId"))))
                continue
            arguments = use.get("input")
            if not isinstance(arguments, dict):
                raise invalid("a toolUse block's input is not a JSON object")
            calls.append(
                ToolCall(
                    id=str(use.get("toolUseId")), name=str(use.get("name")), arguments=arguments
                )
            )
        elif isinstance(block.get("citationsContent"), dict):
            cited = block["citationsContent"]
            for generated in cited.get("content") or ():
                if isinstance(generated, dict) and isinstance(generated.get("text"), str):
                    answer.text(generated["text"])
            answer.part(citations_part(index, cited.get("citations") or []))
        # toolResult blocks went with their toolUse; other kinds (images, guard content,
        # blocks added later) are not part of the answer's text.
    return answer.message(calls), payload.get("stopReason")
