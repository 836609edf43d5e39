"""How the fake Bedrock writes answers: Converse JSON content blocks and ConverseStream's
AWS event-stream frames (prelude, string headers, JSON payload, CRC32s), per the
Converse API reference.

An answer's blocks: text; `reasoningContent` (`reasoningText {text, signature}` or
`redactedContent`); a built-in tool's `toolUse` (type `server_tool_use`) followed by its
`toolResult` (its `type` names the tool's result kind); client `toolUse` blocks last.
Streamed: text and reasoning text by pieces, then the signature as its own delta; a
redacted block in one delta; a tool use opens with `contentBlockStart` and streams its
input JSON; a built-in tool's result opens with `contentBlockStart {toolResult}` and
streams its content items. `messageStop` carries the stop reason, `metadata` the usage.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from .base import Refusal, Reply, ServerTool, Thinking, split_text


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    # name length, name, value type 7 (string), value length, value
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + b"\x07"
        + struct.pack(">H", len(raw_value))
        + raw_value
    )


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, prelude CRC32),
    headers, payload, message CRC32."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(name: str, payload: dict[str, Any]) -> bytes:
    # AWS pads event payloads with a random-length "p" field against traffic analysis.
    body = json.dumps({**payload, "p": "abcdefghijklmnopqrstuvwxyzABCDEF"[: 5 + len(name) % 20]})
    return frame(
        {":event-type": name, ":content-type": "application/json", ":message-type": "event"},
        body.encode(),
    )


def text_delta(text: str, index: int = 0) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": text}})


def corrupt(message: bytes) -> bytes:
    """A frame whose prelude is sound but whose message CRC is wrong (bytes damaged in
    transit): a decoder can skip exactly this frame."""
    return message[:-4] + struct.pack(">I", (zlib.crc32(message[:-4]) + 1) & 0xFFFFFFFF)


def exception(name: str, message: str) -> bytes:
    return frame(
        {
            ":exception-type": name,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def usage(reply: Reply) -> dict[str, int]:
    """Converse's inputTokens leave out cache reads and writes; totalTokens counts them."""
    out = {"inputTokens": reply.prompt_tokens, "outputTokens": reply.completion_tokens}
    cached = (reply.cached_tokens or 0) + (reply.cache_write_tokens or 0)
    if reply.cached_tokens is not None or reply.cache_write_tokens is not None:
        out["cacheReadInputTokens"] = reply.cached_tokens or 0
        out["cacheWriteInputTokens"] = reply.cache_write_tokens or 0
    out["totalTokens"] = reply.prompt_tokens + reply.completion_tokens + cached
    return out


def stop_reason(reply: Reply) -> str:
    return reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")


def _blocks(reply: Reply) -> list[str | Thinking | ServerTool | Refusal]:
    if reply.blocks:
        return list(reply.blocks)
    return [reply.text] if reply.text else []


def _server_use(tool: ServerTool) -> dict[str, Any]:
    return {"toolUseId": tool.id, "name": tool.name, "type": "server_tool_use"}


def _server_result(tool: ServerTool) -> dict[str, Any]:
    return {"toolUseId": tool.id, "type": tool.result_type, "status": "success"}


def _no_refusal(block: Refusal) -> ValueError:
    return ValueError(f"Converse has no refusal block (asked to send {block.text!r})")


def content(reply: Reply) -> list[dict[str, Any]]:
    """The answer's `output.message.content`."""
    blocks: list[dict[str, Any]] = []
    for block in _blocks(reply):
        if isinstance(block, str):
            blocks.append({"text": block})
        elif isinstance(block, Thinking) and block.redacted is not None:
            blocks.append({"reasoningContent": {"redactedContent": block.redacted}})
        elif isinstance(block, Thinking):
            text: dict[str, Any] = {"text": block.text}
            if block.signature is not None:
                text["signature"] = block.signature
            blocks.append({"reasoningContent": {"reasoningText": text}})
        elif isinstance(block, ServerTool):
            blocks.append({"toolUse": {**_server_use(block), "input": block.input}})
            blocks.append({"toolResult": {**_server_result(block), "content": block.output}})
        else:
            raise _no_refusal(block)
    for call in reply.tool_calls:
        use = {"toolUseId": call["id"], "name": call["name"], "input": call["arguments"]}
        blocks.append({"toolUse": use})
    return blocks


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta})


def _start(index: int, start: dict[str, Any]) -> bytes:
    return event("contentBlockStart", {"contentBlockIndex": index, "start": start})


def _stop(index: int) -> bytes:
    return event("contentBlockStop", {"contentBlockIndex": index})


def _tool_use(index: int, use: dict[str, Any], arguments: Any) -> list[bytes]:
    args = json.dumps(arguments)
    half = len(args) // 2
    pieces = [args[:half], args[half:]]
    return [
        _start(index, {"toolUse": use}),
        *(_delta(index, {"toolUse": {"input": p}}) for p in pieces),
        _stop(index),
    ]


def stream_frames(reply: Reply) -> list[bytes]:
    """The content frames of a ConverseStream answer, in order (no messageStart, stop or
    metadata)."""
    frames: list[bytes] = []
    index = 0
    for block in _blocks(reply):
        if isinstance(block, str):
            frames += [text_delta(piece, index) for piece in split_text(block)]
        elif isinstance(block, Thinking) and block.redacted is not None:
            frames.append(_delta(index, {"reasoningContent": {"redactedContent": block.redacted}}))
        elif isinstance(block, Thinking):
            frames += [
                _delta(index, {"reasoningContent": {"text": piece}})
                for piece in split_text(block.text)
            ]
            if block.signature is not None:
                frames.append(_delta(index, {"reasoningContent": {"signature": block.signature}}))
        elif isinstance(block, ServerTool):
            frames += _tool_use(index, _server_use(block), block.input)
            index += 1
            frames.append(_start(index, {"toolResult": _server_result(block)}))
            frames += [_delta(index, {"toolResult": [item]}) for item in block.output or ()]
        else:
            raise _no_refusal(block)
        frames.append(_stop(index))
        index += 1
    for call in reply.tool_calls:
        use = {"toolUseId": call["id"], "name": call["name"]}
        frames += _tool_use(index, use, call["arguments"])
        index += 1
    return frames
