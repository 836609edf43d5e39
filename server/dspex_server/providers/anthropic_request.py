"""Anthropic Messages API: a ProviderRequest as the body of POST /v1/messages."""

from __future__ import annotations

from typing import Any

from dspex_protocol import ImagePart, Message, NamedToolChoice, TextPart

from .base import ProviderRequest
from .messages import inline_image, json_instruction, merge_turns, system_text

# `max_tokens` is required by the Messages API. 4096 fits every current Claude model's
# output limit and is what most answers need; set `maxTokens` per request (or
# `providers.anthropic.defaultMaxTokens`) for longer ones.
DEFAULT_MAX_TOKENS = 4096
ANTHROPIC_VERSION = "2023-06-01"


def _image_block(part: ImagePart) -> dict[str, Any]:
    inline = inline_image(part)
    if inline is not None:
        media_type, data = inline
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    content = message.content
    if content is None:
        return []
    if isinstance(content, str):
        # The API refuses empty text blocks.
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):  # the only other kind it is sent (input_parts)
            blocks.append(_image_block(part))
    return blocks


def _turn(message: Message) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        # Tool results travel in a user turn, as tool_result blocks naming the call.
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        blocks = _content_blocks(message)
        if blocks:
            result["content"] = blocks
        return "user", [result]
    blocks = _content_blocks(message)
    if message.role == "assistant":
        blocks += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
            for c in message.tool_calls or ()
        ]
    return message.role, blocks


def _tool_choice(choice: object) -> dict[str, Any] | None:
    if isinstance(choice, NamedToolChoice):
        return {"type": "tool", "name": choice.name}
    return {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}.get(
        str(choice)
    )


def build_body(request: ProviderRequest, default_max_tokens: int) -> dict[str, Any]:
    turns = merge_turns(_turn(m) for m in request.messages if m.role != "system")
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or default_max_tokens,
        "messages": [{"role": role, "content": blocks} for role, blocks in turns],
    }
    system = system_text(request.messages)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema" and fmt.json_schema:
        body["output_config"] = {"format": {"type": "json_schema", "schema": fmt.json_schema}}
    else:
        # JSON object mode has no native switch: ask for it in the system prompt.
        instruction = json_instruction(fmt)
        if instruction:
            system = f"{system}\n\n{instruction}" if system else instruction
    if system:
        body["system"] = system
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop_sequences": request.stop,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.tools:
        body["tools"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "input_schema": t.parameters,
            }
            for t in request.tools
        ]
    if request.tools and request.tool_choice is not None:
        # The API refuses tool_choice without tools.
        choice = _tool_choice(request.tool_choice)
        if choice is not None:
            body["tool_choice"] = choice
    return body
