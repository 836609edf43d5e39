"""The request checks the fake Gemini API makes, with the errors the API answers: unknown
fields, malformed parts, thinking settings the model does not take, Gemini 3's required
thought signatures on function calls, cached content with settings it fixes."""

from __future__ import annotations

import re
from typing import Any

from .base import HttpError

BODY_FIELDS = {
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
}
GENERATION_FIELDS = {
    "temperature",
    "maxOutputTokens",
    "topP",
    "topK",
    "stopSequences",
    "seed",
    "candidateCount",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "responseMimeType",
    "responseJsonSchema",
    "responseSchema",
    "responseModalities",
    "thinkingConfig",
}
PART_DATA = {
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
}
PART_FIELDS = PART_DATA | {"thought", "thoughtSignature"}
TOOL_FIELDS = {"functionDeclarations", "googleSearch", "codeExecution", "urlContext", "fileSearch"}
THINKING_LEVELS = {"minimal", "low", "medium", "high"}
SIGNATURE_DOCS = "https://ai.google.dev/gemini-api/docs/thought-signatures"
# Models that cannot think, and those that cannot stop thinking (budget 0).
NO_THINKING = ("gemini-2.0-", "gemini-1.")
ALWAYS_THINKING = ("gemini-2.5-pro",)


def gemini_error(
    code: int,
    status: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> HttpError:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = details
    return HttpError(code, {"error": err}, headers or {})


def invalid(message: str) -> HttpError:
    return gemini_error(400, "INVALID_ARGUMENT", message)


def _generation(model: str) -> int:
    match = re.match(r"gemini-(\d+)", model)
    return int(match[1]) if match else 3


def request_error(model: str, body: Any) -> HttpError | None:
    """The 400 the Gemini API answers this generateContent body with, if any."""
    if not isinstance(body, dict):
        return invalid("Invalid JSON payload received.")
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        return invalid(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.'
        )
    for check in (_parts_error, _generation_error, _tools_error, _signature_error, _cache_error):
        error = check(model, body)
        if error is not None:
            return error
    return None


def _parts_error(model: str, body: dict[str, Any]) -> HttpError | None:
    for n, content in enumerate(body.get("contents") or []):
        for part in content.get("parts") or []:
            data = [k for k in part if k in PART_DATA]
            extra = sorted(set(part) - PART_FIELDS)
            if extra:
                return invalid(
                    f'Invalid JSON payload received. Unknown name "{extra[0]}" at '
                    f"'contents[{n}].parts[0]': Cannot find field."
                )
            if len(data) != 1:
                return invalid(
                    f"* GenerateContentRequest.contents[{n}].parts[0].data: required "
                    "oneof field 'data' must have one initialized field"
                )
            if data[0] in ("toolCall", "toolResponse") and _generation(model) < 3:
                return invalid("Tool call context circulation is not enabled for this model.")
            if data[0] == "inlineData" and not part["inlineData"].get("mimeType"):
                return invalid(
                    f"* GenerateContentRequest.contents[{n}].parts[0].inline_data."
                    "mime_type: required field is not set"
                )
    return None


def _generation_error(model: str, body: dict[str, Any]) -> HttpError | None:
    config = body.get("generationConfig") or {}
    unknown = sorted(set(config) - GENERATION_FIELDS)
    if unknown:
        return invalid(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}" at '
            "'generation_config': Cannot find field."
        )
    if "logprobs" in config and not config.get("responseLogprobs"):
        return invalid("logprobs is only valid when responseLogprobs is true.")
    if not 0 <= int(config.get("logprobs", 0)) <= 20:
        return invalid("logprobs must be in the range [0, 20].")
    thinking = config.get("thinkingConfig")
    if thinking is None:
        return None
    unknown = sorted(set(thinking) - {"thinkingBudget", "thinkingLevel", "includeThoughts"})
    if unknown:
        return invalid(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}" at '
            "'generation_config.thinking_config': Cannot find field."
        )
    if model.startswith(NO_THINKING):
        return invalid(f"Thinking is not enabled for models/{model}")
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        return invalid("You can only set only one of thinking budget and thinking level.")
    level = thinking.get("thinkingLevel")
    if level is not None:
        if _generation(model) < 3:
            return invalid("Thinking level is not supported for this model.")
        if str(level).lower() not in THINKING_LEVELS:
            return invalid(
                f"Invalid value at 'generation_config.thinking_config.thinking_level' \"{level}\""
            )
    if thinking.get("thinkingBudget") == 0 and model.startswith(ALWAYS_THINKING):
        return invalid("Budget 0 is invalid. This model only works in thinking mode.")
    return None


def _tools_error(model: str, body: dict[str, Any]) -> HttpError | None:
    for tool in body.get("tools") or []:
        unknown = sorted(set(tool) - TOOL_FIELDS)
        if unknown or len(tool) != 1:
            name = unknown[0] if unknown else ", ".join(tool)
            return invalid(
                f'Invalid JSON payload received. Unknown name "{name}" at '
                "'tools[0]': Cannot find field."
            )
    config = body.get("toolConfig") or {}
    if config.get("includeServerSideToolInvocations") and _generation(model) < 3:
        return invalid("Tool call context circulation is not enabled for this model.")
    return None


def _signature_error(model: str, body: dict[str, Any]) -> HttpError | None:
    """Gemini 3: in the current turn (after the last user content with text), the first
    functionCall part of every model step must carry its thoughtSignature."""
    if _generation(model) < 3:
        return None
    contents = body.get("contents") or []
    start = 0
    for n, content in enumerate(contents):
        if content.get("role") == "user" and any("text" in p for p in content.get("parts") or []):
            start = n
    for n, content in enumerate(contents[start:], start=start):
        if content.get("role") != "model":
            continue
        calls = [p for p in content.get("parts") or [] if "functionCall" in p]
        if calls and not calls[0].get("thoughtSignature"):
            name = calls[0]["functionCall"].get("name")
            return invalid(
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                "to degraded model performance. Additional data, function call "
                f"`default_api:{name}` , position {n + 1}. Please refer to {SIGNATURE_DOCS} "
                "for more details."
            )
    return None


def _cache_error(model: str, body: dict[str, Any]) -> HttpError | None:
    name = body.get("cachedContent")
    if name is None:
        return None
    if not str(name).startswith("cachedContents/"):
        return invalid(f"Invalid cached content name: {name}")
    if any(key in body for key in ("systemInstruction", "tools", "toolConfig")):
        return invalid(
            "CachedContent can not be used with GenerateContent request setting "
            "system_instruction, tools or tool_config.\n\nProposed fix: move those values "
            "to CachedContent from GenerateContent request."
        )
    return None
