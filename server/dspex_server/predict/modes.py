"""Which way a provider is asked for structured output, and the ChatParams parts for it.

Every strategy is expressed in `ChatParams` (`responseFormat`, `tools`, `toolChoice`), so
each provider's adapter translates it into its own wire format:

| strategy      | request                                              | answer read from      |
|---------------|------------------------------------------------------|-----------------------|
| `text`        | field markers in the prompt                          | the text              |
| `json_schema` | `responseFormat {type: json_schema, schema, strict}` | the text              |
| `json_object` | `responseFormat {type: json_object}` + schema prompt | the text              |
| `tool`        | one output tool, forced with a named `toolChoice`    | the call's arguments  |
| `prompt_json` | the schema in the prompt only                        | the text              |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dspex_protocol import (
    AssistantMessage,
    NamedToolChoice,
    PredictMode,
    PredictStrategy,
    ResponseFormat,
    ToolCall,
    ToolChoice,
    ToolDefinition,
)

from ..providers.table import ProviderSpec
from .prompt import OUTPUT_TOOL, Style

# Wire formats whose native structured output is a forced tool call.
TOOL_WIRE_FORMATS = frozenset({"anthropic", "bedrock"})
# Wire formats whose adapters translate `responseFormat: json_schema` natively
# (Gemini `responseJsonSchema`, Ollama `format`), whatever the table row declares.
SCHEMA_WIRE_FORMATS = frozenset({"gemini", "ollama"})


def select_strategy(mode: PredictMode, spec: ProviderSpec) -> PredictStrategy:
    """The strategy for a mode on a provider, from its wire format and capabilities."""
    caps = spec.capabilities
    if mode == "text":
        return "text"
    if mode == "json":
        return "json_object" if "json_mode" in caps else "prompt_json"
    if spec.wire_format in TOOL_WIRE_FORMATS:
        return "tool"
    if "json_schema" in caps or spec.wire_format in SCHEMA_WIRE_FORMATS:
        return "json_schema"
    if "json_mode" in caps:
        return "json_object"
    if "tools" in caps:
        return "tool"
    return "prompt_json"


def prompt_style(strategy: PredictStrategy) -> Style:
    if strategy == "text":
        return "text"
    return "tool" if strategy == "tool" else "json"


@dataclass
class RequestParts:
    response_format: ResponseFormat | None
    tools: list[ToolDefinition] | None
    tool_choice: ToolChoice | None


def request_parts(
    strategy: PredictStrategy,
    schema: dict[str, Any],
    strict: dict[str, Any] | None,
    user_tools: list[ToolDefinition],
    wire_format: str,
) -> RequestParts:
    """responseFormat/tools/toolChoice for one attempt. The signature's own tools are
    offered with `auto` (or `required` beside the output tool, so either may be called)."""
    tools = list(user_tools)
    choice: ToolChoice | None = "auto" if tools else None
    fmt: ResponseFormat | None = None
    if strategy == "json_schema":
        use_strict = strict is not None and wire_format in ("openai_compat", "openai_responses")
        fmt = ResponseFormat(
            type="json_schema",
            name="output",
            json_schema=strict if use_strict and strict is not None else schema,
            strict=True if use_strict else None,
        )
    elif strategy == "json_object":
        fmt = ResponseFormat(type="json_object")
    elif strategy == "tool":
        output = ToolDefinition(
            name=OUTPUT_TOOL,
            description="Give the output fields of the task as the arguments.",
            parameters=schema,
        )
        tools = [output, *tools]
        choice = "required" if user_tools else NamedToolChoice(name=OUTPUT_TOOL)
    return RequestParts(fmt, tools or None, choice)


@dataclass
class Answer:
    """One attempt's answer: the text to parse (None when the model only called the
    signature's tools), and those tool calls."""

    raw: str | None
    arguments: dict[str, Any] | None
    tool_calls: list[ToolCall]


def read_answer(strategy: PredictStrategy, message: AssistantMessage) -> Answer:
    calls = list(message.tool_calls or ())
    if strategy == "tool":
        output = next((c for c in calls if c.name == OUTPUT_TOOL), None)
        others = [c for c in calls if c.name != OUTPUT_TOOL]
        if output is not None:
            return Answer(json.dumps(output.arguments, ensure_ascii=False), output.arguments, [])
        if others:
            return Answer(None, None, others)
        return Answer(message.content or "", None, [])
    if calls:
        return Answer(None, None, calls)
    return Answer(message.content or "", None, [])
