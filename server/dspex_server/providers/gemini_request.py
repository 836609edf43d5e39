"""Gemini API: a ProviderRequest as the body of :generateContent / :streamGenerateContent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dspex_protocol import ImagePart, Message, NamedToolChoice, TextPart, ToolCall

from .base import ProviderRequest
from .messages import (
    inline_image,
    merge_turns,
    system_text,
    tool_call_names,
    tool_result_object,
    unknown_tool_call,
)

# Gemini may answer a functionCall without an id; dspex then makes one up, with this
# prefix, and never sends such an id back (Gemini matches results by name and order).
GENERATED_ID_PREFIX = "gcall_"
# Gemini 3 models refuse function-call history without the thought signature they sent.
# For calls whose signature dspex does not have (another provider's history, a restart),
# the Gemini docs give this value to skip the check.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_SIGNATURE_FREE_MODELS = ("gemini-1", "gemini-2")

SignatureLookup = Callable[[str], str | None]


def _parts(message: Message) -> list[dict[str, Any]]:
    content = message.content
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):  # the only other kind it is sent (input_parts)
            parts.append(_image_part(part))
    return parts


def _image_part(part: ImagePart) -> dict[str, Any]:
    inline = inline_image(part)
    if inline is not None:
        return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
    data: dict[str, Any] = {"fileUri": part.url}
    if part.mime_type:
        data["mimeType"] = part.mime_type
    return {"fileData": data}


def _with_id(payload: dict[str, Any], call_id: str | None) -> dict[str, Any]:
    if call_id and not call_id.startswith(GENERATED_ID_PREFIX):
        payload["id"] = call_id
    return payload


def _call_parts(
    calls: list[ToolCall], model: str, signature_of: SignatureLookup
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for position, call in enumerate(calls):
        part: dict[str, Any] = {
            "functionCall": _with_id({"name": call.name, "args": call.arguments}, call.id)
        }
        signature = signature_of(call.id)
        if signature is None and position == 0 and not model.startswith(_SIGNATURE_FREE_MODELS):
            # Only the first call of a step carries a signature (parallel calls).
            signature = SKIP_SIGNATURE
        if signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def build_contents(
    request: ProviderRequest, provider: str, signature_of: SignatureLookup
) -> list[dict[str, Any]]:
    names = tool_call_names(request.messages)
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            name = names.get(call_id) or message.name
            if not name:
                raise unknown_tool_call(call_id, provider, request.model)
            response = {"name": name, "response": tool_result_object(message.text())}
            turns.append(("user", [{"functionResponse": _with_id(response, call_id)}]))
        elif message.role == "assistant":
            parts = _parts(message) + _call_parts(
                message.tool_calls or [], request.model, signature_of
            )
            turns.append(("model", parts))
        else:
            turns.append(("user", _parts(message)))
    return [{"role": role, "parts": parts} for role, parts in merge_turns(turns)]


def _tool_config(choice: object) -> dict[str, Any] | None:
    if isinstance(choice, NamedToolChoice):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name]}}
    mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}.get(str(choice))
    return {"functionCallingConfig": {"mode": mode}} if mode else None


def _generation_config(request: ProviderRequest) -> dict[str, Any]:
    config: dict[str, Any] = {
        key: value
        for key, value in {
            "temperature": request.temperature,
            "maxOutputTokens": request.max_tokens,
            "topP": request.top_p,
            "stopSequences": request.stop,
            "seed": request.seed,
        }.items()
        if value is not None
    }
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.json_schema:
            # responseJsonSchema takes JSON Schema as dspex gets it; the older
            # responseSchema takes only an OpenAPI subset.
            config["responseJsonSchema"] = fmt.json_schema
    return config


def build_body(
    request: ProviderRequest, provider: str, signature_of: SignatureLookup
) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": build_contents(request, provider, signature_of)}
    system = system_text(request.messages)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": t.name,
                        **({"description": t.description} if t.description else {}),
                        # Full JSON Schema; `parameters` accepts only an OpenAPI subset.
                        "parametersJsonSchema": t.parameters,
                    }
                    for t in request.tools
                ]
            }
        ]
        if request.tool_choice is not None:
            config = _tool_config(request.tool_choice)
            if config is not None:
                body["toolConfig"] = config
    generation = _generation_config(request)
    if generation:
        body["generationConfig"] = generation
    return body
