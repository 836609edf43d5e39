"""How a Chat Completions server renders a Reply's blocks, in the dialect a fake is set to:
reasoning as `reasoning_content` (DeepSeek, vLLM, xAI), `reasoning` (Groq, LM Studio),
Mistral's `thinking` content chunks, or OpenRouter's `reasoning_details` (which repeat the
text in `reasoning`); refusals in `refusal`; server-side tools as Groq's `executed_tools`;
logprobs per text token; usage with cached, cache-write and reasoning tokens. Written from
each provider's API reference."""

from __future__ import annotations

import json
from typing import Any, Literal

from .base import Block, Refusal, Reply, ServerTool, Thinking, split_text

ReasoningField = Literal["reasoning_content", "reasoning", "thinking", "details"]
DETAILS_FORMAT = "anthropic-claude-v1"


def blocks_of(reply: Reply) -> list[Block]:
    if reply.blocks:
        return list(reply.blocks)
    return [reply.text] if reply.text is not None else []


def usage(reply: Reply) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": reply.cached_tokens or 0, "audio_tokens": 0}
    if reply.cache_write_tokens is not None:
        prompt_details["cache_write_tokens"] = reply.cache_write_tokens
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens or 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def token_logprobs(text: str, top: int) -> list[dict[str, Any]]:
    """One entry per whitespace-separated token of `text`, with `top` alternatives."""
    out = []
    for i, word in enumerate(text.split(" ")):
        token = word if i == 0 else " " + word
        alternatives = [
            {"token": f"{token}~{k}", "logprob": -1.0 - k, "bytes": list(f"{token}~{k}".encode())}
            for k in range(top)
        ]
        out.append(
            {
                "token": token,
                "logprob": -0.25,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives,
            }
        )
    return out


def _detail_text(text: str, index: int) -> dict[str, Any]:
    return {"type": "reasoning.text", "text": text, "index": index, "format": DETAILS_FORMAT}


def _details(block: Thinking, index: int) -> list[dict[str, Any]]:
    if block.redacted is not None:
        return [
            {
                "type": "reasoning.encrypted",
                "data": block.redacted,
                "index": index,
                "format": DETAILS_FORMAT,
            }
        ]
    detail = _detail_text(block.text, index)
    if block.signature:
        detail["signature"] = block.signature
    return [detail]


def _executed(tool: ServerTool, index: int, with_output: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "index": index,
        "type": tool.result_type or tool.name,
        "arguments": json.dumps(tool.input),
    }
    if with_output:
        item["output"] = tool.output
    return item


def message(reply: Reply, field: ReasoningField, suffix: str = "") -> dict[str, Any]:
    """The `message` of a plain answer (choice `suffix` marks choices after the first)."""
    texts: list[str] = []
    parts: list[dict[str, Any]] = []  # Mistral's content chunks, in order
    thinking: list[str] = []
    details: list[dict[str, Any]] = []
    refusals: list[str] = []
    executed: list[dict[str, Any]] = []
    for block in blocks_of(reply):
        if isinstance(block, str):
            texts.append(block + suffix)
            parts.append({"type": "text", "text": block + suffix})
        elif isinstance(block, Thinking):
            thinking.append(block.text)
            details += _details(block, len(details))
            parts.append({"type": "thinking", "thinking": [{"type": "text", "text": block.text}]})
        elif isinstance(block, Refusal):
            refusals.append(block.text)
        elif isinstance(block, ServerTool):
            executed.append(_executed(block, len(executed), with_output=True))
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if field == "thinking" and thinking:
        out["content"] = parts
    elif field == "details" and details:
        out["reasoning"] = "".join(thinking)
        out["reasoning_details"] = details
    elif field in ("reasoning_content", "reasoning") and thinking:
        out[field] = "".join(thinking)
    out["refusal"] = "".join(refusals) if refusals else None
    if executed:
        out["executed_tools"] = executed
    if reply.tool_calls:
        out["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for c in reply.tool_calls
        ]
    return out


def stream_deltas(
    reply: Reply, field: ReasoningField, suffix: str = ""
) -> list[tuple[dict[str, Any], str | None]]:
    """(delta, text the delta carries for logprobs) for each block piece, in order."""
    out: list[tuple[dict[str, Any], str | None]] = []
    detail_index = 0
    for n, block in enumerate(blocks_of(reply)):
        if isinstance(block, str):
            text = block + suffix
            out += [({"content": piece}, piece) for piece in split_text(text)]
        elif isinstance(block, Thinking):
            if block.redacted is not None:
                if field == "details":
                    out.append(({"reasoning_details": _details(block, detail_index)}, None))
                detail_index += 1
                continue
            for piece in split_text(block.text):
                if field == "thinking":
                    chunk = [{"type": "thinking", "thinking": [{"type": "text", "text": piece}]}]
                    out.append(({"content": chunk}, None))
                elif field == "details":
                    detail = _detail_text(piece, detail_index)
                    out.append(({"reasoning": piece, "reasoning_details": [detail]}, None))
                else:
                    out.append(({field: piece}, None))
            if field == "details" and block.signature:
                closing = {**_detail_text("", detail_index), "signature": block.signature}
                del closing["text"]
                out.append(({"reasoning_details": [closing]}, None))
            detail_index += 1
        elif isinstance(block, Refusal):
            out += [({"refusal": piece}, None) for piece in split_text(block.text)]
        elif isinstance(block, ServerTool):
            # Groq announces the tool with its arguments, then sends it again with output.
            out.append(({"executed_tools": [_executed(block, n, with_output=False)]}, None))
            out.append(({"executed_tools": [_executed(block, n, with_output=True)]}, None))
    return out


def tool_call_deltas(reply: Reply) -> list[dict[str, Any]]:
    """A call's id and name first, then its arguments in two fragments."""
    out = []
    for index, call in enumerate(reply.tool_calls):
        args = json.dumps(call["arguments"])
        half = len(args) // 2
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["name"], "arguments": ""},
        }
        out.append({"tool_calls": [head]})
        for frag in (args[:half], args[half:]):
            out.append({"tool_calls": [{"index": index, "function": {"arguments": frag}}]})
    return out


def request_problem(
    body: dict[str, Any], known: frozenset[str] | None, unsupported: frozenset[str]
) -> tuple[int, dict[str, Any]] | None:
    """What the API answers a request it does not take: Mistral's 422 for a field it does
    not define (`known`), Groq's 400 for fields it does not support, OpenAI's 400 for
    top_logprobs without logprobs."""
    if known is not None:
        extra = sorted(set(body) - known)
        if extra:
            detail = [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", name],
                    "msg": "Extra inputs are not permitted",
                }
                for name in extra
            ]
            return 422, {
                "object": "error",
                "message": {"detail": detail},
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
    for name in sorted(unsupported):
        if name in body and not (name == "n" and body["n"] == 1):
            message = (
                f"'{name}' : not supported" if name != "n" else "'n' : value must be at most 1"
            )
            return 400, {"error": {"message": message, "type": "invalid_request_error"}}
    if "top_logprobs" in body and not body.get("logprobs"):
        message = "logprobs must be set to true when top_logprobs is used"
        return 400, {
            "error": {"message": message, "type": "invalid_request_error", "param": "top_logprobs"}
        }
    return None
