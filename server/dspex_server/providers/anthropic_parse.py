"""Anthropic Messages API: an answer's content blocks as parts and tool calls, its stop
reason and its usage.

Blocks: `text` (citations are dropped, the text kept), `thinking` (text + signature) and
`redacted_thinking` (opaque data) as reasoning parts, `tool_use` as tool calls, and the
tools the API ran itself (`server_tool_use`, `mcp_tool_use`, with any `*_tool_result`
block answering them) as server-tool parts. Block types added later are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dspex_protocol import (
    AssistantPart,
    FinishReason,
    ReasoningPart,
    ServerToolPart,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import AnswerBuilder, token_usage

STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    # A long server-tool turn paused: the answer so far is complete as it stands; send it
    # back as the last assistant message to let the model go on (docs/providers.md).
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
SERVER_USES = frozenset({"server_tool_use", "mcp_tool_use"})
RESULT_SUFFIX = "_tool_result"


def finish_reason(raw: Any, has_calls: bool) -> FinishReason:
    return STOP_REASONS.get(str(raw), "tool_calls" if has_calls else "stop")


def parse_usage(raw: Any) -> Usage | None:
    """`input_tokens` counts only the uncached part of the prompt; the prompt total adds
    the cache reads and writes (as Chat Completions counts it). Reads are `cachedTokens`,
    writes `cacheWriteTokens`. Thinking is part of `output_tokens`; newer answers also
    report it apart (`output_tokens_details.thinking_tokens`): `reasoningTokens`."""
    if not isinstance(raw, dict):
        return None
    uncached = int(raw.get("input_tokens") or 0)
    cache_read = raw.get("cache_read_input_tokens")
    cache_write = raw.get("cache_creation_input_tokens")
    prompt = uncached + int(cache_read or 0) + int(cache_write or 0)
    details = raw.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    return token_usage(prompt, raw.get("output_tokens"), None, cache_read, cache_write, thinking)


def is_result(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith(RESULT_SUFFIX)


def is_error_result(block: dict[str, Any]) -> bool:
    """An MCP result says `is_error`; the others carry an error object as content
    (`web_search_tool_result_error`, `code_execution_tool_result_error`, ...)."""
    if block.get("is_error") is True:
        return True
    content = block.get("content")
    return isinstance(content, dict) and (
        str(content.get("type", "")).endswith("_error") or "error_code" in content
    )


def server_tool_part(use: dict[str, Any] | None, result: dict[str, Any] | None) -> ServerToolPart:
    """One server tool from its use block and/or its result block. A result whose use came
    in the previous answer (after `pause_turn`) has `input` None; a use whose result is
    still to come has no `resultType`."""
    if use is not None:
        ident, name, args = str(use.get("id")), str(use.get("name")), use.get("input")
        if args is None:
            args = {}
    else:
        assert result is not None
        ident = str(result.get("tool_use_id"))
        name = str(result.get("type")).removesuffix(RESULT_SUFFIX)
        args = None
    if result is None:
        return ServerToolPart(id=ident, name=name, input=args)
    return ServerToolPart(
        id=ident,
        name=name,
        input=args,
        output=result.get("content"),
        result_type=str(result.get("type")),
        is_error=is_error_result(result),
    )


def parse_content(
    blocks: list[Any], invalid: Callable[[str], DspexError]
) -> tuple[list[AssistantPart], list[ToolCall]]:
    """The parts (in order) and tool calls of a whole answer's content blocks."""
    answer = AnswerBuilder()
    calls: list[ToolCall] = []
    uses: dict[str, dict[str, Any]] = {}  # server tool uses waiting for their result
    for block in blocks:
        if not isinstance(block, dict):
            raise invalid("a content block is not an object")
        kind = block.get("type")
        if kind == "text":
            answer.text(str(block.get("text") or ""))
        elif kind == "thinking":
            # Empty thinking (display omitted) has no text, as when streamed.
            thinking, signature = block.get("thinking"), block.get("signature")
            answer.part(
                ReasoningPart(
                    text=str(thinking) if thinking else None,
                    signature=str(signature) if signature else None,
                )
            )
        elif kind == "redacted_thinking":
            answer.part(ReasoningPart(data=str(block.get("data") or "")))
        elif kind == "tool_use":
            arguments = block.get("input")
            if not isinstance(arguments, dict):
                raise invalid("a tool_use input is not an object")
            calls.append(
                ToolCall(id=str(block.get("id")), name=str(block.get("name")), arguments=arguments)
            )
        elif kind in SERVER_USES:
            uses[str(block.get("id"))] = block
        elif is_result(kind):
            answer.part(server_tool_part(uses.pop(str(block.get("tool_use_id")), None), block))
        # Other block types (compaction, container_upload, later additions): skipped.
    for use in uses.values():  # the turn paused before their results
        answer.part(server_tool_part(use, None))
    return answer.build(), calls
