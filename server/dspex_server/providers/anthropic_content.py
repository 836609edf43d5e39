"""Anthropic Messages API: messages as content blocks.

User content (text, images, documents), tool results, and the parts of earlier answers
sent back (signed thinking, redacted thinking, server-tool use with its result block),
with `cache_control` breakpoints where a message, part or system message asks for one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dspex_protocol import (
    CacheControl,
    ContentPart,
    DocumentPart,
    ErrorKind,
    ImagePart,
    Message,
    ReasoningPart,
    ServerToolPart,
    ServerToolSpec,
    TextPart,
)

from ..errors import DspexError
from .messages import inline_image

PROVIDER = "anthropic"
# Blocks that take no cache_control of their own (the API refuses it on them).
UNCACHEABLE = frozenset({"thinking", "redacted_thinking"})
MCP_USE_PREFIX = "mcptoolu_"
MCP_RESULT = "mcp_tool_result"
TEXT_DOCUMENT = "text/plain"
PDF = "application/pdf"


def cache_control(cc: CacheControl) -> dict[str, Any]:
    return {"type": cc.type, **({"ttl": cc.ttl} if cc.ttl else {})}


def mark_last(blocks: list[dict[str, Any]], cc: CacheControl | None) -> None:
    """A message's breakpoint goes on its last block that can carry one."""
    if cc is None:
        return
    for block in reversed(blocks):
        if block.get("type") not in UNCACHEABLE:
            block["cache_control"] = cache_control(cc)
            return


@dataclass
class ContentBuilder:
    """Turns one request's messages into content blocks. `thinking`: whether this request
    turns thinking on. Signed thinking goes back in every assistant turn (the API requires
    it before tool use with thinking on, and strips what it no longer needs), except in a
    final assistant turn without thinking on, which the API refuses."""

    model: str
    thinking: bool = False
    server_tools: list[ServerToolSpec] = field(default_factory=list)

    def refuse(self, message: str) -> DspexError:
        return DspexError(ErrorKind.INVALID_MESSAGES, message, provider=PROVIDER, model=self.model)

    # -- turns ---------------------------------------------------------------------

    def turn(self, message: Message, final: bool = False) -> tuple[str, list[dict[str, Any]]]:
        parts = message.content_parts()
        if final and not self.thinking:
            parts = [p for p in parts if not isinstance(p, ReasoningPart)]
        blocks = self.blocks(parts)
        if message.role == "tool":
            # Tool results travel in a user turn, as tool_result blocks naming the call.
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
            if blocks:
                result["content"] = blocks
            mark_last([result], message.cache_control)
            return "user", [result]
        if message.role == "assistant":
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in message.tool_calls or ()
            ]
        mark_last(blocks, message.cache_control)
        return message.role, blocks

    def system(self, messages: Iterable[Message], instruction: str | None) -> Any:
        """The system prompt: a string, or text blocks where a system message or one of
        its parts asks for a cache breakpoint."""
        system = [m for m in messages if m.role == "system"]
        cached = any(
            m.cache_control is not None
            or any(getattr(p, "cache_control", None) is not None for p in m.content_parts())
            for m in system
        )
        if not cached:
            texts = [m.text() for m in system] + [instruction or ""]
            return "\n\n".join(t for t in texts if t) or None
        blocks: list[dict[str, Any]] = []
        for m in system:
            own = [p for p in m.content_parts() if isinstance(p, TextPart)]
            mine = [b for b in map(self.text_block, own) if b is not None]
            mark_last(mine, m.cache_control)
            blocks += mine
        if instruction:
            blocks.append({"type": "text", "text": instruction})
        return blocks or None

    # -- parts ---------------------------------------------------------------------

    def blocks(self, parts: Iterable[ContentPart]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in parts:
            blocks += self.part_blocks(part)
        return blocks

    def part_blocks(self, part: ContentPart) -> list[dict[str, Any]]:
        if isinstance(part, TextPart):
            block = self.text_block(part)
            return [] if block is None else [block]
        if isinstance(part, ImagePart):
            return [self._cached(image_block(part), part.cache_control)]
        if isinstance(part, DocumentPart):
            return [self._cached(self.document_block(part), part.cache_control)]
        if isinstance(part, ReasoningPart):
            return self.reasoning_blocks(part)
        if isinstance(part, ServerToolPart):
            return self.server_tool_blocks(part)
        # Audio and refusal parts never get here: the adapter's input_parts leave them out.
        return []

    def text_block(self, part: TextPart) -> dict[str, Any] | None:
        if not part.text:  # the API refuses empty text blocks
            return None
        return self._cached({"type": "text", "text": part.text}, part.cache_control)

    @staticmethod
    def _cached(block: dict[str, Any], cc: CacheControl | None) -> dict[str, Any]:
        if cc is not None:
            block["cache_control"] = cache_control(cc)
        return block

    def reasoning_blocks(self, part: ReasoningPart) -> list[dict[str, Any]]:
        """Thinking goes back as it came: the signature covers its text. Reasoning
        without a signature or data cannot be checked by the API and is not sent."""
        if part.data is not None:
            return [{"type": "redacted_thinking", "data": part.data}]
        if part.signature:
            return [{"type": "thinking", "thinking": part.text or "", "signature": part.signature}]
        return []

    def server_tool_blocks(self, part: ServerToolPart) -> list[dict[str, Any]]:
        """The tool use and its result block, as the API sent them. `input` None: a result
        whose use was in the turn before (the answer after a `pause_turn`); no result
        type: a use whose result is still to come (the turn was paused)."""
        mcp = part.result_type == MCP_RESULT or part.id.startswith(MCP_USE_PREFIX)
        blocks: list[dict[str, Any]] = []
        if part.input is not None:
            use: dict[str, Any] = {
                "type": "mcp_tool_use" if mcp else "server_tool_use",
                "id": part.id,
                "name": part.name,
                "input": part.input,
            }
            if mcp:
                use["server_name"] = self.mcp_server_of(part.name)
            blocks.append(use)
        if part.result_type is not None:
            result: dict[str, Any] = {
                "type": part.result_type,
                "tool_use_id": part.id,
                "content": part.output,
            }
            if mcp:
                result["is_error"] = part.is_error
            blocks.append(result)
        return blocks

    def mcp_server_of(self, tool: str) -> str:
        """The MCP server that ran `tool`: the request's only MCP server, else the one
        whose allowed tools name it (the API wants the server name back with the use)."""
        servers = [s.config for s in self.server_tools if s.name == "mcp"]
        if len(servers) > 1:
            servers = [s for s in servers if tool in _allowed_tools(s)]
        names = [s.get("name") for s in servers]
        if len(names) == 1 and isinstance(names[0], str):
            return names[0]
        raise self.refuse(
            f"the history holds a call of MCP tool {tool!r}: list the MCP server that ran "
            "it in serverTools (with several servers, give each its "
            "tool_configuration.allowed_tools)"
        )

    def document_block(self, part: DocumentPart) -> dict[str, Any]:
        """PDFs by URL or inline; plain text inline. The title is the part's name."""
        mime = (part.mime_type or "").lower()
        inline = inline_data(part.url, part.data, part.mime_type)
        if inline is None:
            if mime not in ("", PDF):
                raise self.refuse(
                    f"Anthropic takes documents by URL as PDFs only; send this {mime} "
                    "document's data inline"
                )
            source: dict[str, Any] = {"type": "url", "url": part.url}
        else:
            mime, data = inline[0].lower(), inline[1]
            if mime == PDF:
                source = {"type": "base64", "media_type": PDF, "data": data}
            elif mime == TEXT_DOCUMENT:
                source = {"type": "text", "media_type": TEXT_DOCUMENT, "data": self._text(data)}
            else:
                raise self.refuse(
                    f"Anthropic takes PDF and text/plain documents, not {mime or 'untyped'} ones"
                )
        block: dict[str, Any] = {"type": "document", "source": source}
        if part.name:
            block["title"] = part.name
        return block

    def _text(self, data: str) -> str:
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise self.refuse("a text/plain document's data is not base64 of UTF-8 text") from None


def _allowed_tools(config: dict[str, Any]) -> list[Any]:
    tools = (config.get("tool_configuration") or {}).get("allowed_tools")
    return tools if isinstance(tools, list) else []


def inline_data(url: str | None, data: str | None, mime: str | None) -> tuple[str, str] | None:
    """(media type, base64 data) of inline data or a `data:` URL; None for a real URL."""
    if data is not None:
        return mime or "", data
    if url is not None and url.startswith("data:") and ";base64," in url:
        header, payload = url[5:].split(",", 1)
        return header.split(";", 1)[0], payload
    return None


def image_block(part: ImagePart) -> dict[str, Any]:
    inline = inline_image(part)
    if inline is not None:
        media_type, data = inline
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    return {"type": "image", "source": {"type": "url", "url": part.url}}
