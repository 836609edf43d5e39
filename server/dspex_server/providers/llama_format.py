"""What the llama provider sends to a model and reads back, without llama.cpp: messages and
tools in the shape chat templates expect, the schema a forced tool call is constrained by,
tool calls found in free text, and stop sequences found in a token stream."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from dspex_protocol import (
    ErrorKind,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolChoice,
    ToolDefinition,
)

from ..errors import DspexError

# Hermes/Qwen-style tool calls in free text (what such templates teach their models).
_TAGGED_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)
TOOL_CALL_OPEN = "<tool_call>"
# llama-cpp-python's JSON-Schema converter ignores integer bounds; a bounded range of at
# most this many values becomes an enum, which it turns into grammar alternatives.
MAX_ENUM_RANGE = 256


def template_messages(
    messages: Sequence[Message], provider: str, model: str
) -> list[dict[str, Any]]:
    """Messages as Hugging Face chat templates read them (OpenAI-like dicts; tool call
    arguments as objects, the way `transformers` passes them)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        entry: dict[str, Any] = {"role": message.role, "content": _text(message, provider, model)}
        if message.name:
            entry["name"] = message.name
        if message.tool_call_id:
            entry["tool_call_id"] = message.tool_call_id
        if message.tool_calls:
            entry["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
        out.append(entry)
    return out


def _text(message: Message, provider: str, model: str) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    parts: list[str] = []
    for part in content:
        if isinstance(part, ImagePart):
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                "the llama provider takes text only (no image parts)",
                provider=provider,
                model=model,
            )
        if isinstance(part, TextPart):
            parts.append(part.text)
    return "".join(parts)


def template_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": tool.parameters or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
    ]


def forced_tools(
    tools: Sequence[ToolDefinition] | None, choice: ToolChoice | None
) -> list[ToolDefinition] | None:
    """The tools one of which must be called (`required`, or the named one), else None."""
    if not tools or choice in (None, "auto", "none"):
        return None
    if isinstance(choice, NamedToolChoice):
        named = [t for t in tools if t.name == choice.name]
        if not named:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"toolChoice names {choice.name!r}, which is not among the tools",
            )
        return named
    return list(tools)


def tool_call_schema(tools: Sequence[ToolDefinition]) -> dict[str, Any]:
    """The JSON Schema of one call of one of `tools`: `{"name": ..., "arguments": {...}}`,
    the arguments valid against that tool's parameters."""
    branches = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": tool.parameters or {"type": "object"},
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def parse_forced_call(text: str) -> tuple[str, dict[str, Any]]:
    """(name, arguments) of a call generated under `tool_call_schema`'s grammar."""
    value = json.loads(text)
    return str(value["name"]), dict(value["arguments"])


def find_tool_calls(text: str, tools: Sequence[ToolDefinition]) -> list[tuple[str, dict[str, Any]]]:
    """Tool calls a model wrote in free text (`toolChoice: auto`): `<tool_call>{...}
    </tool_call>` blocks, or an answer that is one JSON object naming a known tool with
    its `arguments` (or `parameters`). Anything else is text."""
    names = {t.name for t in tools}
    blocks = _TAGGED_CALL.findall(text)
    if not blocks and text.strip().startswith("{"):
        blocks = [text.strip()]
    calls: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            return []
        if not isinstance(value, dict) or value.get("name") not in names:
            return []
        arguments = value.get("arguments", value.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return []
        if not isinstance(arguments, dict):
            return []
        calls.append((str(value["name"]), arguments))
    return calls


def may_be_tool_call(text: str) -> bool:
    """Whether streamed text so far could still turn out to be a tool call (then it is
    held back until the answer is complete)."""
    head = text.lstrip()
    if not head:
        return True
    return (
        head.startswith("{") or head.startswith(TOOL_CALL_OPEN) or TOOL_CALL_OPEN.startswith(head)
    )


class StopScanner:
    """Finds the first stop sequence in streamed text: `feed` returns the text that is safe
    to pass on (never the start of a stop sequence that may still complete) and whether a
    stop sequence was met (the text after it is dropped)."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self._held = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        text = self._held + piece
        hits = [(text.index(s), s) for s in self.stops if s in text]
        if hits:
            self._held = ""
            return text[: min(hits)[0]], True
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


def grammar_schema(schema: Any) -> Any:
    """`schema` with what the grammar converter would drop made explicit: small bounded
    integer ranges become enums. Other numeric bounds are not enforced by the grammar
    (dspex/predict validates the answer and re-asks within its budget)."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: grammar_schema(value) for key, value in schema.items()}
    values = _integer_range(out)
    if values is not None:
        kept = {k: v for k, v in out.items() if k in ("description", "title", "default")}
        return {**kept, "enum": values}
    return out


def _integer_range(schema: dict[str, Any]) -> list[int] | None:
    if schema.get("type") != "integer" or "enum" in schema or "const" in schema:
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), int):
        low = (
            schema["exclusiveMinimum"] + 1
            if low is None
            else max(low, schema["exclusiveMinimum"] + 1)
        )
    if isinstance(schema.get("exclusiveMaximum"), int):
        high = (
            schema["exclusiveMaximum"] - 1
            if high is None
            else min(high, schema["exclusiveMaximum"] - 1)
        )
    if not isinstance(low, int) or not isinstance(high, int) or isinstance(low, bool):
        return None
    if not 0 < high - low + 1 <= MAX_ENUM_RANGE:
        return None
    step = schema.get("multipleOf")
    step = step if isinstance(step, int) and step > 0 else 1
    return [v for v in range(low, high + 1) if v % step == 0] or None
