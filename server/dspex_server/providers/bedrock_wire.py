"""Bedrock's Converse shapes: request body, response parsing, stop reasons and the error
names (HTTP `x-amzn-ErrorType` and ConverseStream exception events) mapped to dspex kinds."""

from __future__ import annotations

from typing import Any

from dspex_protocol import (
    AssistantMessage,
    ErrorKind,
    FinishReason,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import ProviderRequest, inline_image, token_usage, without_none

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
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

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def error_name(raw: str | None) -> str | None:
    """`ValidationException:http://internal.amazon.com/...` -> `ValidationException`;
    `throttlingException` -> `ThrottlingException`."""
    if not raw:
        return None
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:] if name else None


def _image_block(part: ImagePart, provider: str, model: str) -> dict[str, Any]:
    mime, data = inline_image(part, provider, model)
    fmt = IMAGE_FORMATS.get(mime)
    if fmt is None:
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            f"Bedrock takes png, jpeg, gif or webp images, not {mime}",
            provider=provider,
            model=model,
        )
    # In the JSON protocol a blob is base64 text.
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _blocks(message: Message, provider: str, model: str) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "toolResult": {
                    "toolUseId": message.tool_call_id,
                    "content": [{"text": message.text()}],
                    "status": "success",
                }
            }
        ]
    blocks: list[dict[str, Any]] = []
    if isinstance(message.content, str):
        if message.content:
            blocks.append({"text": message.content})
    elif message.content:
        for part in message.content:
            if isinstance(part, TextPart):
                if part.text:
                    blocks.append({"text": part.text})
            elif isinstance(part, ImagePart):  # the only other kind it is sent (input_parts)
                blocks.append(_image_block(part, provider, model))
    for call in message.tool_calls or ():
        blocks.append(
            {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}
        )
    return blocks


def converse_body(request: ProviderRequest, provider: str) -> dict[str, Any]:
    """Converse wants system text apart, tool results as user turns, and strictly
    alternating roles: consecutive turns of one role are merged."""
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    has_tool_blocks = False
    for message in request.messages:
        if message.role == "system":
            system.append({"text": message.text()})
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, provider, request.model)
        has_tool_blocks = has_tool_blocks or message.role == "tool" or bool(message.tool_calls)
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    config = without_none(
        {
            "maxTokens": request.max_tokens,
            "temperature": request.temperature,
            "topP": request.top_p,
            "stopSequences": request.stop,
        }
    )
    if config:
        body["inferenceConfig"] = config
    tool_config = _tool_config(request, has_tool_blocks)
    if tool_config:
        body["toolConfig"] = tool_config
    return body


def _tool_config(request: ProviderRequest, has_tool_blocks: bool) -> dict[str, Any] | None:
    choice = request.tool_choice
    # Converse has no "none"; tools must still be declared when the history holds tool
    # blocks, else they are left out so that the model cannot call one.
    if not request.tools or (choice == "none" and not has_tool_blocks):
        return None
    config: dict[str, Any] = {
        "tools": [
            {
                "toolSpec": {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "inputSchema": {"json": t.parameters},
                }
            }
            for t in request.tools
        ]
    }
    if isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def parse_usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return token_usage(
        raw.get("inputTokens"),
        raw.get("outputTokens"),
        raw.get("totalTokens"),
        raw.get("cacheReadInputTokens"),
    )


def stop_reason(raw: Any, has_calls: bool) -> FinishReason:
    return STOP_REASONS.get(str(raw), "tool_calls" if has_calls else "stop")


def parse_converse(payload: Any, provider: str, model: str) -> tuple[AssistantMessage, Any]:
    """The assistant message and raw stopReason of a Converse answer."""

    def invalid(what: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_RESPONSE, what, provider=provider, model=model)

    if not isinstance(payload, dict):
        raise invalid("the response is not a JSON object")
    message = (payload.get("output") or {}).get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise invalid("the response has no output.message.content")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message["content"]:
        if not isinstance(block, dict):
            raise invalid("a content block is not an object")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            arguments = use.get("input")
            if not isinstance(arguments, dict):
                raise invalid("a toolUse block's input is not a JSON object")
            calls.append(
                ToolCall(
                    id=str(use.get("toolUseId")), name=str(use.get("name")), arguments=arguments
                )
            )
    return (
        AssistantMessage(content="".join(texts) or None, tool_calls=calls or None),
        payload.get("stopReason"),
    )
