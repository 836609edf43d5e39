"""The Responses API's documented shapes, rendered from a fake `Reply`: the response
object (output items, usage, status) and its typed stream events with `sequence_number`.
Pure functions, so that the parser tests can render the same answer plain and streamed.

A reasoning item's `encrypted_content` (when `include` asks for it) is opaque to clients;
this fake puts in it, base64-encoded, the id of the item that followed the reasoning, so
that it can check, as the API does, that the history sends them back together.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .base import Refusal, Reply, ServerTool, Thinking, split_text

ENCRYPTED_REASONING = "reasoning.encrypted_content"
ENCRYPTED_PREFIX = "gAAAAAfake:"
Split = Callable[[str], list[str]]


def encrypt_link(reasoning_id: str, following_id: str | None) -> str:
    raw = json.dumps({"rs": reasoning_id, "next": following_id}).encode()
    return ENCRYPTED_PREFIX + base64.b64encode(raw).decode()


def decrypt_link(data: str) -> dict[str, Any] | None:
    """The link an encrypted reasoning item carries; None when it is not this fake's."""
    if not data.startswith(ENCRYPTED_PREFIX):
        return None
    try:
        value = json.loads(base64.b64decode(data[len(ENCRYPTED_PREFIX) :]))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class Rendered:
    """A rendered answer: the response object, and which call follows which reasoning."""

    response: dict[str, Any]
    call_reasoning: dict[str, str] = field(default_factory=dict)  # fc id -> rs id


def render_response(
    body: dict[str, Any], reply: Reply, response_id: str, counter: itertools.count[int]
) -> Rendered:
    """The response object the API answers `body` with (status completed, or incomplete
    for finish_reason length/content_filter)."""
    encrypted = ENCRYPTED_REASONING in (body.get("include") or ())
    items: list[dict[str, Any]] = []
    blocks = reply.blocks or ([reply.text] if reply.text is not None else [])
    for block in blocks:
        n = next(counter)
        if isinstance(block, str):
            items.append(_message(f"msg_{n:04d}", [_output_text(block, body)]))
        elif isinstance(block, Refusal):
            items.append(_message(f"msg_{n:04d}", [{"type": "refusal", "refusal": block.text}]))
        elif isinstance(block, Thinking):
            summary = [{"type": "summary_text", "text": t} for t in _summaries(block.text)]
            item = {"type": "reasoning", "id": f"rs_{n:04d}", "summary": summary}
            if block.redacted is not None:  # opaque content of the reply's own
                item["encrypted_content"] = block.redacted
            items.append(item)
        elif isinstance(block, ServerTool):
            items.append(_server_tool(block))
    for call in reply.tool_calls:
        n = next(counter)
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{n:04d}",
                "call_id": call["id"],
                "name": call["name"],
                "arguments": json.dumps(call["arguments"]),
                "status": "completed",
            }
        )
    links: dict[str, str] = {}
    last_reasoning: str | None = None
    for i, item in enumerate(items):
        if item["type"] == "reasoning":
            last_reasoning = item["id"]
            following = items[i + 1]["id"] if i + 1 < len(items) else None
            if encrypted and "encrypted_content" not in item:
                item["encrypted_content"] = encrypt_link(item["id"], following)
        elif item["type"] == "function_call" and last_reasoning is not None:
            links[item["id"]] = last_reasoning
    response = {
        "id": response_id,
        "object": "response",
        "created_at": 1767225600,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "model": body["model"] + "-2026-01-01",
        "output": items,
        "previous_response_id": body.get("previous_response_id"),
        "store": bool(body.get("store", True)),
        "usage": usage(reply),
    }
    if reply.finish_reason in ("length", "content_filter"):
        response["status"] = "incomplete"
        reason = "max_output_tokens" if reply.finish_reason == "length" else "content_filter"
        response["incomplete_details"] = {"reason": reason}
    return Rendered(response, links)


def usage(reply: Reply) -> dict[str, Any]:
    """`input_tokens` counts the cached reads and writes; `output_tokens` the reasoning."""
    details: dict[str, Any] = {"cached_tokens": reply.cached_tokens or 0}
    if reply.cache_write_tokens is not None:
        details["cache_write_tokens"] = reply.cache_write_tokens
    return {
        "input_tokens": reply.prompt_tokens,
        "input_tokens_details": details,
        "output_tokens": reply.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens or 0},
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _summaries(text: str) -> list[str]:
    """A Thinking's text as summary parts: paragraphs separated by `\\n\\n\\n` are parts."""
    return [t for t in text.split("\n\n\n") if t] if text else []


def _message(item_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": content,
    }


def _output_text(text: str, body: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
    if "message.output_text.logprobs" in (body.get("include") or ()):
        part["logprobs"] = [
            {"token": t, "logprob": -0.5, "bytes": list(t.encode()), "top_logprobs": []}
            for t in split_text(text, 4)
        ]
    return part


def _server_tool(tool: ServerTool) -> dict[str, Any]:
    """A built-in tool's item: its type (`web_search_call`, ...), call fields, result."""
    kind = tool.result_type or f"{tool.name}_call"
    result = tool.output if isinstance(tool.output, dict) else {"results": tool.output}
    return {"type": kind, "id": tool.id, "status": "completed", **tool.input, **result}


# -- the typed stream events ----------------------------------------------------------


class EventWriter:
    """Numbers events (`sequence_number`) and renders them as SSE (with `event:`)."""

    def __init__(self) -> None:
        self.seq = itertools.count()

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sequence_number": next(self.seq), **fields}


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def opening_events(w: EventWriter, response: dict[str, Any]) -> list[dict[str, Any]]:
    head = {**response, "status": "in_progress", "output": [], "usage": None}
    return [
        w.event("response.created", response=head),
        w.event("response.in_progress", response=head),
    ]


def item_events(
    w: EventWriter, index: int, item: dict[str, Any], split: Split = split_text
) -> list[dict[str, Any]]:
    """One output item's events, from `output_item.added` to `output_item.done`."""
    kind = item["type"]
    events = [w.event("response.output_item.added", output_index=index, item=_opening(item))]
    at = {"output_index": index, "item_id": item["id"]}
    if kind == "message":
        for c, part in enumerate(item["content"]):
            events += _content_events(w, at, c, part, split)
    elif kind == "reasoning":
        for s, summary in enumerate(item["summary"]):
            text = summary["text"]
            events.append(
                w.event(
                    "response.reasoning_summary_part.added",
                    **at,
                    summary_index=s,
                    part={"type": "summary_text", "text": ""},
                )
            )
            events += [
                w.event("response.reasoning_summary_text.delta", **at, summary_index=s, delta=p)
                for p in split(text)
            ]
            events.append(
                w.event("response.reasoning_summary_text.done", **at, summary_index=s, text=text)
            )
            events.append(
                w.event("response.reasoning_summary_part.done", **at, summary_index=s, part=summary)
            )
    elif kind == "function_call":
        events += [
            w.event("response.function_call_arguments.delta", **at, delta=p)
            for p in split(item["arguments"])
        ]
        events.append(
            w.event("response.function_call_arguments.done", **at, arguments=item["arguments"])
        )
    else:  # a built-in tool: progress events, then the item whole
        progress = kind.removesuffix("_call")
        events += [
            w.event(f"response.{progress}_call.{state}", **at)
            for state in ("in_progress", "searching", "completed")
        ]
    events.append(w.event("response.output_item.done", output_index=index, item=item))
    return events


def _opening(item: dict[str, Any]) -> dict[str, Any]:
    if item["type"] == "message":
        return {**item, "status": "in_progress", "content": []}
    if item["type"] == "reasoning":
        return {"type": "reasoning", "id": item["id"], "summary": []}
    if item["type"] == "function_call":
        return {**item, "status": "in_progress", "arguments": ""}
    return {"type": item["type"], "id": item["id"], "status": "in_progress"}


def _content_events(
    w: EventWriter, at: dict[str, Any], c: int, part: dict[str, Any], split: Split
) -> list[dict[str, Any]]:
    if part["type"] == "refusal":
        text = part["refusal"]
        empty = {"type": "refusal", "refusal": ""}
        deltas = [
            w.event("response.refusal.delta", **at, content_index=c, delta=p) for p in split(text)
        ]
        done = w.event("response.refusal.done", **at, content_index=c, refusal=text)
    else:
        text = part["text"]
        empty = {"type": "output_text", "text": "", "annotations": []}
        probs = part.get("logprobs")
        pieces = split(text)
        deltas = []
        for i, p in enumerate(pieces):
            fields: dict[str, Any] = {"delta": p}
            if probs is not None:  # the logprobs of the whole text ride on the first delta
                fields["logprobs"] = probs if i == 0 else []
            deltas.append(w.event("response.output_text.delta", **at, content_index=c, **fields))
        done = w.event("response.output_text.done", **at, content_index=c, text=text)
    return [
        w.event("response.content_part.added", **at, content_index=c, part=empty),
        *deltas,
        done,
        w.event("response.content_part.done", **at, content_index=c, part=part),
    ]


def closing_event(w: EventWriter, response: dict[str, Any]) -> dict[str, Any]:
    kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    return w.event(kind, response=response)


def response_events(response: dict[str, Any], split: Split = split_text) -> list[dict[str, Any]]:
    """A whole response as its stream: opening events, each item's, the closing one."""
    w = EventWriter()
    events = opening_events(w, response)
    for index, item in enumerate(response["output"]):
        events += item_events(w, index, item, split)
    return [*events, closing_event(w, response)]
