"""The checks the fake Bedrock makes on a Converse request, as the service documents them
(each failure is a ValidationException): content blocks, document names and formats,
cache points, structured output, request metadata, Nova's built-in tools and reasoning
settings, and Claude's extended-thinking rules (budget, forced tools, and a tool-use
turn sent back with its signed reasoning first, signatures unchanged)."""

from __future__ import annotations

import json
import re
from typing import Any

CONTENT_KEYS = frozenset(
    {
        "text",
        "image",
        "document",
        "audio",
        "video",
        "toolUse",
        "toolResult",
        "cachePoint",
        "reasoningContent",
        "citationsContent",
    }
)
DOCUMENT_FORMATS = frozenset({"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"})
DOCUMENT_NAME = re.compile(r"^(?!.*\s\s)[A-Za-z0-9\s\-()\[\]]{1,200}$")
METADATA = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}$")
SYSTEM_TOOLS = frozenset({"nova_code_interpreter", "nova_grounding"})
MAX_CACHE_POINTS = 4
GEOGRAPHIES = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "ca.")


def base_model(model_id: str) -> str:
    for prefix in GEOGRAPHIES:
        if model_id.startswith(prefix):
            return model_id[len(prefix) :]
    return model_id


class Issued:
    """The signatures and redacted reasoning the fake has sent: only these come back."""

    def __init__(self) -> None:
        self.signatures: set[str] = set()
        self.redacted: set[str] = set()


def check(body: Any, model_id: str, issued: Issued) -> str | None:
    """Why Converse would refuse this body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return "messages is required"
    model = base_model(model_id)
    return (
        _messages(body["messages"])
        or _cache_points(body)
        or _tools(body, model)
        or _output_config(body.get("outputConfig"))
        or _metadata(body.get("requestMetadata"))
        or _reasoning(body, model, issued)
    )


def _messages(messages: list[Any]) -> str | None:
    names: set[str] = set()
    for n, message in enumerate(messages):
        if message.get("role") != ("user" if n % 2 == 0 else "assistant"):
            return "A conversation must start with a user message and alternate roles."
        for block in message.get("content") or ():
            keys = set(block)
            if len(keys) != 1 or not keys <= CONTENT_KEYS:
                return f"content block {sorted(keys)} is not exactly one known member"
            if "text" in block and not block["text"]:
                return "The text field in the ContentBlock object is blank."
            failure = _document(block.get("document"), names)
            if failure:
                return failure
        if not message.get("content"):
            return "The content field in the Message object is empty."
    return None


def _document(document: Any, names: set[str]) -> str | None:
    if document is None:
        return None
    name = document.get("name")
    if not isinstance(name, str) or not DOCUMENT_NAME.match(name):
        return (
            "The document file name can only contain alphanumeric characters, whitespace "
            "characters, hyphens, parentheses, and square brackets."
        )
    if name in names:
        return "Document names must be unique within a request."
    names.add(name)
    if document.get("format") not in DOCUMENT_FORMATS:
        return f"document format {document.get('format')!r} is not supported"
    source = document.get("source") or {}
    if len(source) != 1 or not ({"bytes", "s3Location"} & set(source)):
        return "a document source is bytes or an s3Location"
    return None


def _cache_points(body: dict[str, Any]) -> str | None:
    sequences = [m.get("content") or [] for m in body["messages"]]
    sequences += [body.get("system") or [], (body.get("toolConfig") or {}).get("tools") or []]
    count = 0
    for blocks in sequences:
        for i, block in enumerate(blocks):
            if "cachePoint" not in block:
                continue
            count += 1
            point = block["cachePoint"]
            if point.get("type") != "default" or point.get("ttl", "5m") not in ("5m", "1h"):
                return "cachePoint type must be default (ttl 5m or 1h)"
            if i == 0 or "cachePoint" in blocks[i - 1]:
                return "A cache point must follow content."
            if "document" in blocks[i - 1] or "video" in blocks[i - 1]:
                return "A cache point cannot directly follow a document or video."
    if count > MAX_CACHE_POINTS:
        return f"A request takes at most {MAX_CACHE_POINTS} cache points."
    return None


def _tool_blocks(messages: list[Any], kind: str) -> list[dict[str, Any]]:
    return [b[kind] for m in messages for b in m.get("content") or () if kind in b]


def _tools(body: dict[str, Any], model: str) -> str | None:
    tools = (body.get("toolConfig") or {}).get("tools") or []
    uses = _tool_blocks(body["messages"], "toolUse")
    if (uses or _tool_blocks(body["messages"], "toolResult")) and not tools:
        return (
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    declared = {t["systemTool"]["name"] for t in tools if "systemTool" in t}
    if declared - SYSTEM_TOOLS:
        return f"Unknown system tool {sorted(declared - SYSTEM_TOOLS)}"
    if declared and not model.startswith(("amazon.nova-2-", "amazon.nova-premier")):
        return "This model doesn't support system tools."
    for use in uses:
        if use.get("type") == "server_tool_use" and use.get("name") not in declared:
            return f"system tool {use.get('name')!r} is used in the history but not declared"
    return None


def _output_config(config: Any) -> str | None:
    if config is None:
        return None
    text_format = config.get("textFormat") or {}
    schema = ((text_format.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    if text_format.get("type") != "json_schema" or not isinstance(schema, str):
        return "outputConfig.textFormat is json_schema with the schema as a JSON string"
    if not isinstance(json.loads(schema), dict):
        return "the output schema is not a JSON object"
    return None


def _metadata(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not 1 <= len(metadata) <= 16:
        return "requestMetadata holds 1 to 16 pairs"
    for key, value in metadata.items():
        if not key or not METADATA.match(key) or not METADATA.match(value):
            return f"requestMetadata {key!r} has characters out of the allowed set"
    return None


def _reasoning(body: dict[str, Any], model: str, issued: Issued) -> str | None:
    extra = body.get("additionalModelRequestFields") or {}
    if "reasoningConfig" in extra:
        config = extra["reasoningConfig"]
        if not model.startswith("amazon.nova-2-"):
            return "reasoningConfig is not a field of this model"
        if config.get("type") == "enabled" and config.get("maxReasoningEffort") not in (
            "low",
            "medium",
            "high",
        ):
            return "maxReasoningEffort must be low, medium or high with reasoning enabled"
    thinking = extra.get("thinking")
    if thinking is None:
        return None
    if not model.startswith("anthropic."):
        return "thinking is not a field of this model"
    if thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.budget_tokens: Input should be greater than or equal to 1024"
    if max_tokens is not None and budget >= max_tokens:
        return "`max_tokens` must be greater than `thinking.budget_tokens`."
    choice = (body.get("toolConfig") or {}).get("toolChoice") or {}
    if "any" in choice or "tool" in choice:
        return "Thinking may not be enabled when tool_choice forces tool use."
    return _signed_history(body["messages"], issued)


def _signed_history(messages: list[Any], issued: Issued) -> str | None:
    for message in messages:
        for block in message.get("content") or ():
            reasoning = block.get("reasoningContent")
            if reasoning is None:
                continue
            signature = (reasoning.get("reasoningText") or {}).get("signature")
            redacted = reasoning.get("redactedContent")
            if signature not in issued.signatures and redacted not in issued.redacted:
                return "Invalid `signature` in `thinking` block"
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last is None or not any("toolUse" in b for b in last["content"]):
        return None
    if "reasoningContent" not in last["content"][0]:
        first = next(iter(last["content"][0]))
        return (
            f"Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` "
            "is enabled, a final `assistant` message must start with a thinking block."
        )
    return None
