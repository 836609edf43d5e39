"""What the fake Anthropic Messages API checks of a request body before answering, as the
real API documents it (extended thinking, thinking with tool use, server tools and their
beta features, prompt caching, metadata). Each check answers the documented 400
`invalid_request_error`, or None when the request passes."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
MIN_BUDGET = 1024
MAX_BREAKPOINTS = 4
INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"
TOOL_BETAS = {
    "web_fetch_20250910": "web-fetch-2025-09-10",
    "code_execution_20250825": "code-execution-2025-08-25",
}
MCP_BETA = "mcp-client-2025-04-04"
THINKING = ("thinking", "redacted_thinking")


def betas(headers: Any) -> set[str]:
    raw = headers.get("anthropic-beta") or ""
    return {b.strip() for b in raw.split(",") if b.strip()}


def check_request(body: dict[str, Any], beta: set[str], signatures: dict[str, str]) -> str | None:
    """The error message the API would answer `body` with, or None. `signatures`: the
    thinking signatures this fake issued, with the thinking text each one signs."""
    for check in (_thinking_config, _tool_betas, _metadata, _cache_breakpoints):
        problem = check(body, beta)
        if problem:
            return problem
    return _messages(body, signatures)


def thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking") or {}
    return thinking.get("type") in ("enabled", "adaptive")


def _thinking_config(body: dict[str, Any], beta: set[str]) -> str | None:
    thinking = body.get("thinking")
    if thinking is None or thinking.get("type") == "disabled":
        return None
    if thinking.get("type") != "enabled":
        return "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'"
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < MIN_BUDGET:
        return (
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
        )
    interleaved = INTERLEAVED_BETA in beta and body.get("tools")
    if not interleaved and body["max_tokens"] <= budget:
        return (
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
            f"documentation at {DOCS}#max-tokens-and-context-window-size"
        )
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    if body.get("temperature", 1) != 1:
        return (
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {DOCS}#feature-compatibility"
        )
    if body.get("top_p", 1) < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    if "top_k" in body:
        return "`top_k` may not be set when thinking is enabled."
    return None


def _tool_betas(body: dict[str, Any], beta: set[str]) -> str | None:
    for i, tool in enumerate(body.get("tools") or []):
        needed = TOOL_BETAS.get(str(tool.get("type")))
        if needed and needed not in beta:
            return (
                f"tools.{i}: tool type '{tool['type']}' is a beta feature: "
                f"add the 'anthropic-beta: {needed}' header"
            )
    if body.get("mcp_servers") and MCP_BETA not in beta:
        return "mcp_servers: Extra inputs are not permitted"
    for i, server in enumerate(body.get("mcp_servers") or []):
        if server.get("type") != "url" or not server.get("url") or not server.get("name"):
            return f"mcp_servers.{i}: type 'url', url and name are required"
    return None


def _metadata(body: dict[str, Any], beta: set[str]) -> str | None:
    for key in body.get("metadata") or {}:
        if key != "user_id":
            return f"metadata.{key}: Extra inputs are not permitted"
    return None


def _cache_breakpoints(body: dict[str, Any], beta: set[str]) -> str | None:
    def marked(blocks: Any) -> int:
        if not isinstance(blocks, list):
            return 0
        return sum(
            ("cache_control" in b)
            + (marked(b.get("content")) if b.get("type") == "tool_result" else 0)
            for b in blocks
            if isinstance(b, dict)
        )

    found = marked(body.get("system")) + marked(body.get("tools"))
    found += sum(marked(m.get("content")) for m in body.get("messages") or [])
    if found > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {found}."
        )
    return None


def _messages(body: dict[str, Any], signatures: dict[str, str]) -> str | None:
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        return "messages: the first message must use the user role"
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            kind = block.get("type")
            if kind == "text" and not block.get("text"):
                return "messages: text content blocks must be non-empty"
            if kind in THINKING and "cache_control" in block:
                return f"{where}.{kind}.cache_control: Extra inputs are not permitted"
            if kind == "redacted_thinking" and block.get("data") not in signatures:
                return f"{where}: Invalid `data` in `redacted_thinking` block"
            if kind == "thinking" and signatures.get(block.get("signature", "")) != block.get(
                "thinking"
            ):
                return f"{where}: Invalid `signature` in `thinking` block"
    return _thinking_turns(body, messages)


def _thinking_turns(body: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    last = messages[-1]
    final_blocks = last.get("content") if isinstance(last.get("content"), list) else []
    if not thinking_on(body):
        if last.get("role") == "assistant":
            for j, block in enumerate(final_blocks):
                if block.get("type") in THINKING:
                    return (
                        f"messages.{len(messages) - 1}.content.{j}: When thinking is disabled, "
                        "an `assistant` message in the final position cannot contain "
                        "`thinking`. To use thinking blocks, enable `thinking` in your request."
                    )
        return None
    # With thinking on, a tool loop's last assistant turn must start with its thinking.
    in_tool_loop = last.get("role") == "user" and any(
        b.get("type") == "tool_result" for b in final_blocks
    )
    if not in_tool_loop or len(messages) < 2:
        return None
    i = len(messages) - 2
    blocks = messages[i].get("content") or []
    first = blocks[0].get("type") if blocks else "nothing"
    if first not in THINKING:
        return (
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
            f"found `{first}`. When `thinking` is enabled, a final `assistant` message must "
            "start with a thinking block (preceeding the lastmost set of `tool_use` and "
            "`tool_result` blocks). We recommend you include thinking blocks from previous "
            f"turns. To avoid this requirement, disable `thinking`. Please consult our "
            f"documentation at {DOCS}"
        )
    return None
