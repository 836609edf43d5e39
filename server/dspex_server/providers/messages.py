"""Message-conversion helpers shared by the wire formats that are not Chat Completions
(Anthropic, Gemini): system text apart, tool names by call id, turns merged by role."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from dspex_protocol import ErrorKind, ImagePart, Message, ResponseFormat

from ..errors import DspexError

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)

Block = TypeVar("Block")


def system_text(messages: Iterable[Message]) -> str | None:
    """The text of every system message, in order: these wire formats carry the system
    prompt apart from the turns."""
    texts = [m.text() for m in messages if m.role == "system"]
    joined = "\n\n".join(t for t in texts if t)
    return joined or None


def tool_call_names(messages: Iterable[Message]) -> dict[str, str]:
    """Call id → function name, from the assistant messages' tool calls (a tool result
    names only the call id; Gemini needs the function's name)."""
    return {c.id: c.name for m in messages for c in m.tool_calls or () if m.role == "assistant"}


def merge_turns(turns: Iterable[tuple[str, list[Block]]]) -> list[tuple[str, list[Block]]]:
    """Consecutive turns of one role become one turn: parallel tool results must arrive
    together, and both APIs expect user and assistant/model turns to alternate."""
    merged: list[tuple[str, list[Block]]] = []
    for role, blocks in turns:
        if not blocks:
            continue
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(blocks)
        else:
            merged.append((role, list(blocks)))
    return merged


def inline_image(part: ImagePart) -> tuple[str, str] | None:
    """(media type, base64 data) for inline images and `data:` URLs; None for a real URL."""
    if part.data is not None:
        return part.mime_type or "application/octet-stream", part.data
    match = _DATA_URL.match(part.url or "")
    if match:
        return match["mime"], match["data"]
    return None


def tool_result_object(content: str) -> dict[str, Any]:
    """A tool result as a JSON object: the content itself when it is one, else wrapped."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}


def unknown_tool_call(call_id: str, provider: str, model: str) -> DspexError:
    return DspexError(
        ErrorKind.INVALID_MESSAGES,
        f"tool message answers call {call_id!r}, which no earlier assistant message made "
        "(give the tool message a name, or keep the assistant tool call in the history)",
        provider=provider,
        model=model,
    )


def json_instruction(fmt: ResponseFormat | None) -> str | None:
    """For wire formats without a native JSON mode: the instruction that asks for JSON."""
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_schema" and fmt.json_schema:
        schema = json.dumps(fmt.json_schema, separators=(",", ":"))
        return f"Respond with a single JSON object that conforms to this JSON Schema: {schema}"
    return "Respond with a single JSON object and nothing else."
