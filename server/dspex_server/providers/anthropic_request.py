"""Anthropic Messages API: a ProviderRequest as the body of POST /v1/messages, and the
`anthropic-beta` features that body needs.

Thinking, server tools, prompt caching and the request options are mapped here; what the
API is documented to refuse (forced tool use with thinking, a temperature other than 1
with thinking, ...) is refused before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dspex_protocol import ErrorKind, NamedToolChoice, ServerToolSpec

from ..catalog.data import lookup
from ..errors import DspexError
from .anthropic_content import PROVIDER, ContentBuilder, cache_control
from .base import ProviderRequest
from .messages import json_instruction, merge_turns

# `max_tokens` is required by the Messages API. 4096 fits every current Claude model's
# output limit and is what most answers need; set `maxTokens` per request (or
# `providers.anthropic.defaultMaxTokens`) for longer ones.
DEFAULT_MAX_TOKENS = 4096
ANTHROPIC_VERSION = "2023-06-01"

# Thinking budgets for `reasoning.effort` (and `{}`: medium). The API's minimum is 1024;
# Anthropic advises starting low and raising the budget for hard tasks. `high` stays
# small enough that budget + default answer room fits every catalog model's output limit.
EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 16384}
MIN_BUDGET = 1024
# Models that take `output_config.effort` (catalog ids; documented for Claude Opus 4.5).
EFFORT_MODELS = frozenset({"claude-opus-4-5"})
# Claude 3.7 Sonnet has no interleaved thinking (thinking between tool calls).
NO_INTERLEAVED = frozenset({"claude-3-7-sonnet"})
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"
MCP_BETA = "mcp-client-2025-04-04"
MAX_BREAKPOINTS = 4
CHOICES: dict[str, dict[str, Any]] = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}

# Common server-tool names → the tool type Anthropic documents for them.
SERVER_TOOL_TYPES = {
    "web_search": "web_search_20250305",
    "web_fetch": "web_fetch_20250910",
    "code_execution": "code_execution_20250825",
}
# Tool types that need a beta feature (the `anthropic-beta` header).
TOOL_BETAS = {
    "web_fetch_20250910": "web-fetch-2025-09-10",
    "code_execution_20250825": "code-execution-2025-08-25",
}


@dataclass
class AnthropicBody:
    body: dict[str, Any]
    betas: list[str] = field(default_factory=list)


def refuse(message: str, model: str) -> DspexError:
    return DspexError(ErrorKind.INVALID_MESSAGES, message, provider=PROVIDER, model=model)


def _catalog_id(model: str) -> str | None:
    entry = lookup(PROVIDER, model)
    return entry.id if entry is not None else None


def _max_output(model: str) -> int | None:
    entry = lookup(PROVIDER, model)
    return entry.max_output_tokens if entry is not None else None


def thinking_budget(request: ProviderRequest) -> int | None:
    """The thinking budget asked for: None without `reasoning`, 0 for thinking off."""
    reasoning = request.reasoning
    if reasoning is None:
        return None
    if reasoning.budget_tokens is not None:
        budget = reasoning.budget_tokens
        if 0 < budget < MIN_BUDGET:
            raise refuse(
                f"Anthropic's minimum thinking budget is {MIN_BUDGET} tokens "
                f"(reasoning.budgetTokens {budget}; 0 turns thinking off)",
                request.model,
            )
        return budget
    return EFFORT_BUDGETS[reasoning.effort or "medium"]


def check_thinking(request: ProviderRequest) -> None:
    """What the API refuses with thinking on, refused here with the way out."""
    choice = request.tool_choice
    if (request.tools or request.server_tools) and (
        choice == "required" or isinstance(choice, NamedToolChoice)
    ):
        raise refuse(
            "Anthropic refuses forced tool use (toolChoice `required` or a named tool) with "
            "thinking on: use `auto` or `none`, or leave `reasoning` out",
            request.model,
        )
    if request.temperature is not None and request.temperature != 1:
        raise refuse(
            "Anthropic allows only temperature 1 with thinking on: leave `temperature` out "
            "or leave `reasoning` out",
            request.model,
        )
    if request.top_p is not None and request.top_p < 0.95:
        raise refuse(
            "Anthropic allows topP only between 0.95 and 1 with thinking on", request.model
        )


def max_tokens(request: ProviderRequest, default: int, budget: int | None) -> int:
    """`max_tokens` counts thinking too and must exceed the budget: an explicit value that
    does not is refused; the default gets the budget added (within the model's limit)."""
    if not budget:
        return request.max_tokens or default
    if request.max_tokens is not None:
        if request.max_tokens <= budget:
            raise refuse(
                f"maxTokens ({request.max_tokens}) must exceed the thinking budget ({budget}): "
                "Anthropic counts thinking in max_tokens",
                request.model,
            )
        return request.max_tokens
    limit = _max_output(request.model)
    wanted = budget + default
    if limit is not None and wanted > limit:
        if limit <= budget:
            raise refuse(
                f"the thinking budget ({budget}) leaves no room within the model's output "
                f"limit ({limit} tokens)",
                request.model,
            )
        return limit
    return wanted


def _tool_choice(request: ProviderRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        mapped: dict[str, Any] | None = {"type": "tool", "name": choice.name}
    else:
        mapped = {
            "auto": {"type": "auto"},
            "required": {"type": "any"},
            "none": {"type": "none"},
        }.get(str(choice))
    if request.parallel_tool_calls is False:
        mapped = mapped or {"type": "auto"}
        if mapped["type"] != "none":
            mapped = {**mapped, "disable_parallel_tool_use": True}
    return mapped


def _tools(request: ProviderRequest) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for t in request.tools or ():
        tool: dict[str, Any] = {"name": t.name}
        if t.description:
            tool["description"] = t.description
        tool["input_schema"] = t.parameters
        if t.strict:
            tool["strict"] = True
        if t.cache_control is not None:
            tool["cache_control"] = cache_control(t.cache_control)
        tools.append(tool)
    return tools


def server_tools(
    specs: list[ServerToolSpec], model: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(tool declarations, MCP server definitions, betas) for the server tools asked for.
    `config` is merged into the declaration as given (it may name another tool version)."""
    tools: list[dict[str, Any]] = []
    mcp_servers: list[dict[str, Any]] = []
    betas: list[str] = []
    for spec in specs:
        if spec.name == "mcp":
            config = spec.config
            if not isinstance(config.get("url"), str) or not isinstance(config.get("name"), str):
                raise refuse(
                    "an Anthropic MCP server needs config.url and config.name "
                    "(and config.authorization_token where the server asks for one)",
                    model,
                )
            mcp_servers.append({"type": "url", **config})
            betas.append(MCP_BETA)
            continue
        type_ = SERVER_TOOL_TYPES.get(spec.name)
        if type_ is None:
            raise refuse(
                f"provider 'anthropic' has no server tool {spec.name!r} (it has "
                f"{', '.join([*SERVER_TOOL_TYPES, 'mcp'])})",
                model,
            )
        tool = {"type": type_, "name": spec.name, **spec.config}
        tools.append(tool)
        beta = TOOL_BETAS.get(str(tool["type"]))
        if beta:
            betas.append(beta)
    return tools, mcp_servers, betas


def _metadata(request: ProviderRequest) -> dict[str, str] | None:
    """`user` → metadata.user_id, the only metadata key the API takes."""
    metadata = dict(request.metadata or {})
    other = sorted(set(metadata) - {"user_id"})
    if other:
        raise refuse(
            f"Anthropic's metadata takes only user_id (or set `user`), not {', '.join(other)}",
            request.model,
        )
    if request.user is not None:
        if metadata.get("user_id", request.user) != request.user:
            raise refuse("`user` and metadata.user_id differ", request.model)
        metadata["user_id"] = request.user
    return metadata or None


def _marked(blocks: Any) -> int:
    """Blocks with cache_control among `blocks` (and inside tool results)."""
    if not isinstance(blocks, list):
        return 0
    found = 0
    for block in blocks:
        if isinstance(block, dict):
            found += "cache_control" in block
            if block.get("type") == "tool_result":
                found += _marked(block.get("content"))
    return found


def count_breakpoints(body: dict[str, Any]) -> int:
    messages = body.get("messages") or []
    return (
        _marked(body.get("system"))
        + _marked(body.get("tools"))
        + sum(_marked(m.get("content")) for m in messages)
    )


def build_body(request: ProviderRequest, default_max_tokens: int) -> AnthropicBody:
    budget = thinking_budget(request)
    if budget:
        check_thinking(request)
    content = ContentBuilder(
        model=request.model, thinking=bool(budget), server_tools=list(request.server_tools or ())
    )
    chat = [m for m in request.messages if m.role != "system"]
    turns = merge_turns(content.turn(m, final=i == len(chat) - 1) for i, m in enumerate(chat))
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": max_tokens(request, default_max_tokens, budget),
        "messages": [{"role": role, "content": blocks} for role, blocks in turns],
    }
    betas: list[str] = []
    output_config: dict[str, Any] = {}
    fmt = request.response_format
    instruction = None
    if fmt is not None and fmt.type == "json_schema" and fmt.json_schema:
        output_config["format"] = {"type": "json_schema", "schema": fmt.json_schema}
    else:
        # JSON object mode has no native switch: ask for it in the system prompt.
        instruction = json_instruction(fmt)
    system = content.system(request.messages, instruction)
    if system:
        body["system"] = system
    if budget is not None:
        body["thinking"] = (
            {"type": "enabled", "budget_tokens": budget} if budget else {"type": "disabled"}
        )
    effort = request.reasoning.effort if request.reasoning is not None else None
    if effort is not None and _catalog_id(request.model) in EFFORT_MODELS:
        output_config["effort"] = effort
    if output_config:
        body["output_config"] = output_config
    optional = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop_sequences": request.stop,
        "metadata": _metadata(request),
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    tools = _tools(request)
    native, mcp_servers, tool_betas = server_tools(list(request.server_tools or ()), request.model)
    betas += tool_betas
    if tools or native:
        body["tools"] = tools + native
    if mcp_servers:
        body["mcp_servers"] = mcp_servers
    if tools or native:
        # The API refuses tool_choice without tools (server tools count).
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
        if budget and _catalog_id(request.model) not in NO_INTERLEAVED:
            betas.append(INTERLEAVED_BETA)
    breakpoints = count_breakpoints(body)
    if breakpoints > MAX_BREAKPOINTS:
        raise refuse(
            f"Anthropic takes at most {MAX_BREAKPOINTS} cache breakpoints per request "
            f"(cacheControl on messages, parts and tools); this one has {breakpoints}",
            request.model,
        )
    return AnthropicBody(body, sorted(set(betas)))
