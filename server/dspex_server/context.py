"""Fitting a conversation into a model's context window.

Token counts are estimated (there is no tokenizer for every provider in the daemon):

- a message costs `MESSAGE_OVERHEAD` tokens plus one token per `CHARS_PER_TOKEN` characters
  of its text, its tool calls (name + JSON arguments) and its name / tool call id;
- an image part costs `IMAGE_TOKENS` (OpenAI's low-detail price of an image);
- tool definitions cost their JSON Schema's characters / `CHARS_PER_TOKEN`.

The accounting layer scales the estimate by what the provider reported for earlier
requests to the same model (`calibrated`), so the estimate converges on the provider's own
count. Fitting keeps every system message and the newest turns and drops the oldest; an
assistant message that asked for tools and the tool results answering it are one unit, so a
call is never separated from its results.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dspex_protocol import (
    ErrorKind,
    ImagePart,
    Message,
    ReasoningPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ToolDefinition,
)

from .errors import DspexError

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
IMAGE_TOKENS = 85
# Inline documents and audio, by their base64 size: a PDF page is ~1,500-3,000 tokens for
# ~50-100 kB; a rough bound that keeps the context check from ignoring them.
INLINE_BYTES_PER_TOKEN = 32
REQUEST_OVERHEAD = 3


def _chars_to_tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)


def estimate_message_tokens(message: Message) -> int:
    tokens = MESSAGE_OVERHEAD
    content = message.content
    if isinstance(content, str) and message.parts is None:
        tokens += _chars_to_tokens(len(content))
    else:
        for part in message.content_parts():
            if isinstance(part, TextPart | RefusalPart):
                tokens += _chars_to_tokens(len(part.text))
            elif isinstance(part, ReasoningPart):
                tokens += _chars_to_tokens(len(part.text or "") + len(part.data or ""))
            elif isinstance(part, ServerToolPart):
                tokens += _chars_to_tokens(len(json.dumps([part.input, part.output])))
            elif isinstance(part, ImagePart):
                tokens += IMAGE_TOKENS
            elif part.data is not None:  # documents and audio: by their size
                tokens += max(IMAGE_TOKENS, len(part.data) // INLINE_BYTES_PER_TOKEN)
            else:
                tokens += IMAGE_TOKENS
    for call in message.tool_calls or ():
        tokens += _chars_to_tokens(len(call.name) + len(json.dumps(call.arguments)))
    for extra in (message.name, message.tool_call_id):
        if extra:
            tokens += _chars_to_tokens(len(extra))
    return tokens


def estimate_tools_tokens(tools: Sequence[ToolDefinition] | None) -> int:
    if not tools:
        return 0
    return sum(
        _chars_to_tokens(len(t.name) + len(t.description or "") + len(json.dumps(t.parameters)))
        for t in tools
    )


def estimate_prompt_tokens(
    messages: Sequence[Message], tools: Sequence[ToolDefinition] | None = None
) -> int:
    return (
        REQUEST_OVERHEAD
        + sum(estimate_message_tokens(m) for m in messages)
        + estimate_tools_tokens(tools)
    )


def turn_units(messages: Sequence[Message]) -> list[list[int]]:
    """Indices of the non-system messages grouped into units that are kept or dropped
    together: an assistant message with tool calls and the tool messages that follow it."""
    units: list[list[int]] = []
    for i, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "tool" and units and _answers_calls(messages, units[-1], message):
            units[-1].append(i)
        else:
            units.append([i])
    return units


def _answers_calls(messages: Sequence[Message], unit: list[int], tool: Message) -> bool:
    head = messages[unit[0]]
    if head.role != "assistant" or not head.tool_calls:
        return False
    # Only tool messages directly after the call (the unit so far is the call + results).
    return all(messages[j].role == "tool" for j in unit[1:])


@dataclass
class Fit:
    messages: list[Message]
    dropped: int
    estimated_tokens: int


def fit_messages(
    messages: Sequence[Message],
    limit: int,
    count: Callable[[Message], int],
    fixed_tokens: int,
    strategy: str,
) -> Fit:
    """Keep system messages and the newest units whose estimated tokens fit in `limit`.

    `count` estimates one message, `fixed_tokens` what the request costs besides its
    messages (tool definitions, overhead). Raises invalid_messages when the request cannot
    fit: with strategy `none` on any overflow, with `truncate` when the system messages and
    the newest unit alone are too large.
    """
    sizes = [count(m) for m in messages]
    total = fixed_tokens + sum(sizes)
    if total <= limit:
        return Fit(list(messages), 0, total)
    if strategy == "none":
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            f"the messages need about {total} tokens but the context window leaves {limit} "
            f"(overflow of {total - limit} tokens; contextStrategy is 'none')",
            details={
                "estimatedTokens": total,
                "limitTokens": limit,
                "overflowTokens": total - limit,
            },
        )
    used = fixed_tokens + sum(s for m, s in zip(messages, sizes, strict=True) if m.role == "system")
    units = turn_units(messages)
    chosen: list[list[int]] = []
    for unit in reversed(units):
        size = sum(sizes[i] for i in unit)
        if used + size > limit:
            break
        used += size
        chosen.insert(0, unit)
    if not chosen:
        newest = sum(sizes[i] for i in units[-1]) if units else 0
        need = used + newest
        raise DspexError(
            ErrorKind.INVALID_MESSAGES,
            f"the system messages and the newest turn need about {need} tokens but the "
            f"context window leaves {limit} (overflow of {need - limit} tokens)",
            details={"estimatedTokens": need, "limitTokens": limit, "overflowTokens": need - limit},
        )
    # The kept conversation starts with a user turn where it can (some providers refuse a
    # conversation that opens with an assistant answer or a tool result).
    while len(chosen) > 1 and messages[chosen[0][0]].role != "user":
        used -= sum(sizes[i] for i in chosen.pop(0))
    keep = {i for i, m in enumerate(messages) if m.role == "system"}
    for unit in chosen:
        keep.update(unit)
    kept = [m for i, m in enumerate(messages) if i in keep]
    return Fit(kept, len(messages) - len(kept), used)
