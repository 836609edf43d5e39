"""Reading Chat Completions answers, plain and streamed, in every dialect compatible
servers speak.

`content` is a string or a list of parts (Mistral's `thinking` chunks, `text`, `refusal`);
reasoning arrives as `reasoning_content` (DeepSeek, vLLM, Qwen, xAI), `reasoning`
(OpenRouter, Groq, LM Studio, Ollama's /v1) or OpenRouter's `reasoning_details` (text with
its signature, summaries, encrypted reasoning), which then repeats `reasoning` and wins;
`refusal` is its own field; Groq's Compound systems report the tools they ran in
`executed_tools`. Unknown part types and fields are skipped, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from dspex_protocol import (
    AssistantMessage,
    FinishReason,
    ReasoningPart,
    ServerToolPart,
    TokenLogprob,
    ToolCall,
    TopLogprob,
    Usage,
)

from .base import AnswerBuilder, ExtraChoice, StreamPart, parse_tool_arguments
from .delta import CallFragment, Delta

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# Groq's executed tool types -> the common server-tool names.
EXECUTED_TOOL_NAMES = {
    "search": "web_search",
    "browser_search": "web_search",
    "visit": "web_fetch",
    "python": "code_execution",
    "code_interpreter": "code_execution",
}


@dataclass(frozen=True)
class Piece:
    """One piece of an answer in the order it arrived: text, reasoning or refusal text, or
    a whole part (a reasoning signature or encrypted block, a server-tool result)."""

    kind: Literal["text", "reasoning", "refusal", "part"]
    text: str = ""
    part: ReasoningPart | ServerToolPart | None = None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _texts(value: Any) -> str:
    """The text of a string, or of a list of text parts (Mistral's `thinking` list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            p["text"] for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def content_pieces(content: Any) -> list[Piece]:
    """The pieces of `content`: a string is text; a list holds typed parts (`text`,
    `thinking`, `refusal`), in order; parts of other types are skipped."""
    if isinstance(content, str):
        return [Piece("text", content)] if content else []
    if not isinstance(content, list):
        return []
    pieces = []
    for part in content:
        if isinstance(part, str):  # some servers send bare strings in the list
            kind, text = "text", part
        elif not isinstance(part, dict):
            continue
        elif part.get("type") == "text":
            kind, text = "text", _texts(part.get("text"))
        elif part.get("type") == "thinking":
            kind, text = "reasoning", _texts(part.get("thinking"))
        elif part.get("type") == "refusal":
            kind, text = "refusal", _texts(part.get("refusal"))
        else:
            continue
        if text:
            pieces.append(Piece(kind, text))  # type: ignore[arg-type]
    return pieces


@dataclass
class DetailState:
    """What a stream of `reasoning_details` has said so far: whether the reasoning being
    streamed is a summary (its part is marked once)."""

    summary_marked: bool = False


def detail_pieces(details: list[Any], state: DetailState | None = None) -> list[Piece]:
    """OpenRouter's `reasoning_details` items as pieces: `reasoning.text` (text, then its
    signature, which closes the block), `reasoning.summary` (summary text), and
    `reasoning.encrypted` (opaque data); `id` and `format` are kept for the way back."""
    state = state if state is not None else DetailState()
    pieces: list[Piece] = []
    for item in details:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        ident, fmt = _str(item.get("id")), _str(item.get("format"))
        if kind == "reasoning.text":
            text = _texts(item.get("text"))
            if text:
                pieces.append(Piece("reasoning", text))
                state.summary_marked = False
            signature = item.get("signature")
            if isinstance(signature, str) and signature:
                pieces.append(
                    Piece("part", part=ReasoningPart(signature=signature, id=ident, format=fmt))
                )
        elif kind == "reasoning.summary":
            text = _texts(item.get("summary"))
            if text:
                pieces.append(Piece("reasoning", text))
                if not state.summary_marked:
                    mark = ReasoningPart(summary=True, id=ident, format=fmt)
                    pieces.append(Piece("part", part=mark))
                    state.summary_marked = True
        elif kind == "reasoning.encrypted":
            data = item.get("data")
            if isinstance(data, str) and data:
                pieces.append(Piece("part", part=ReasoningPart(data=data, id=ident, format=fmt)))
                state.summary_marked = False
    return pieces


def reasoning_pieces(obj: dict[str, Any], state: DetailState | None = None) -> list[Piece]:
    """The reasoning of a message or delta, in whichever field the server uses."""
    details = obj.get("reasoning_details")
    if isinstance(details, list) and details:
        return detail_pieces(details, state)
    for key in ("reasoning_content", "reasoning"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return [Piece("reasoning", value)]
    return []


def executed_tool(item: dict[str, Any], index: int) -> ServerToolPart:
    """A tool Groq's Compound system ran: its arguments as input, its results as output."""
    raw_args = item.get("arguments")
    args: Any = raw_args
    if isinstance(raw_args, str):
        try:
            args = json.loads(raw_args) if raw_args.strip() else {}
        except json.JSONDecodeError:
            args = {"arguments": raw_args}
    kind = str(item.get("type") or item.get("name") or "tool")
    output = {k: v for k, v in item.items() if k not in ("index", "type", "name", "arguments")}
    return ServerToolPart(
        id=str(item.get("id") or f"executed_{item.get('index', index)}"),
        name=EXECUTED_TOOL_NAMES.get(kind, kind),
        input=args if isinstance(args, dict | list) else {"arguments": args},
        output=output or None,
        result_type=kind,
    )


def message_pieces(
    obj: dict[str, Any], tools: list[Piece] | None = None, state: DetailState | None = None
) -> list[Piece]:
    """Everything a message (or delta) says, in answer order: reasoning, the server tools
    run, the content (text, thinking, refusal parts), then a `refusal` field."""
    pieces = reasoning_pieces(obj, state)
    pieces += tools or []
    pieces += content_pieces(obj.get("content"))
    refusal = obj.get("refusal")
    if isinstance(refusal, str) and refusal:
        pieces.append(Piece("refusal", refusal))
    return pieces


def build_answer(pieces: list[Piece]) -> AnswerBuilder:
    answer = AnswerBuilder()
    for piece in pieces:
        if piece.kind == "part" and piece.part is not None:
            answer.part(piece.part)
        elif piece.kind == "text":
            answer.text(piece.text)
        elif piece.kind == "reasoning":
            answer.reasoning(piece.text)
        elif piece.kind == "refusal":
            answer.refusal(piece.text)
    return answer


_RANK = {"reasoning": 0, "text": 1, "refusal": 2, "part": 3}
_FIELD = {"reasoning": "reasoning", "text": "content", "refusal": "refusal"}


def deltas(pieces: list[Piece]) -> list[Delta]:
    """Pieces as stream deltas. A delta applies reasoning, content, refusal, then parts:
    pieces that arrive in another order go in deltas of their own."""
    out: list[Delta] = []
    current: dict[str, Any] = {}
    rank = -1
    for piece in pieces:
        r = _RANK[piece.kind]
        name = _FIELD.get(piece.kind, "parts")
        if r < rank:
            out.append(Delta(**current))
            current, rank = {}, -1
        if piece.kind == "part":
            current.setdefault("parts", []).append(piece.part)
        else:
            current[name] = current.get(name, "") + piece.text
        rank = r
    if current:
        out.append(Delta(**current))
    return out


def parse_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """`choices[].logprobs.content`: per token its log probability and alternatives."""
    return token_logprobs(raw.get("content") if isinstance(raw, dict) else None)


def token_logprobs(items: Any) -> list[TokenLogprob] | None:
    """A list of `{token, logprob, bytes, top_logprobs}` entries (Chat Completions'
    `logprobs.content`, Ollama's `logprobs`); malformed entries are skipped."""
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        token = _logprob(item)
        if token is None:
            continue
        tops = item.get("top_logprobs")
        top = [t for t in map(_logprob, tops if isinstance(tops, list) else []) if t]
        out.append(
            TokenLogprob(
                token=token.token,
                logprob=token.logprob,
                bytes=token.bytes,
                top_logprobs=[TopLogprob(**t.model_dump(exclude={"top_logprobs"})) for t in top]
                if isinstance(tops, list)
                else None,
            )
        )
    return out or None


def _logprob(item: Any) -> TokenLogprob | None:
    if not isinstance(item, dict) or not isinstance(item.get("token"), str):
        return None
    value = item.get("logprob")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    raw_bytes = item.get("bytes")
    ok_bytes = isinstance(raw_bytes, list) and all(isinstance(b, int) for b in raw_bytes)
    return TokenLogprob(
        token=item["token"], logprob=float(value), bytes=raw_bytes if ok_bytes else None
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_usage(raw: Any) -> Usage | None:
    """Usage with cached reads (`prompt_tokens_details.cached_tokens`, DeepSeek's
    `prompt_cache_hit_tokens`, Mistral's `num_cached_tokens`), cache writes (OpenRouter's
    `cache_write_tokens`) and reasoning tokens; prompt tokens include the cached ones."""
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("prompt_tokens")) or 0
    completion = _int(raw.get("completion_tokens")) or 0
    prompt_details = raw.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = raw.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = _int(prompt_details.get("cached_tokens"))
    for key in ("prompt_cache_hit_tokens", "num_cached_tokens", "cached_tokens"):
        cached = cached if cached is not None else _int(raw.get(key))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=_int(raw.get("total_tokens")) or prompt + completion,
        cached_tokens=cached,
        cache_write_tokens=_int(prompt_details.get("cache_write_tokens")),
        reasoning_tokens=_int(completion_details.get("reasoning_tokens")),
    )


def chunk_usage(chunk: dict[str, Any]) -> Usage | None:
    """A stream's usage: the chunk's `usage`, or Groq's `x_groq.usage` on its last chunk."""
    usage = parse_usage(chunk.get("usage"))
    if usage is None and isinstance(chunk.get("x_groq"), dict):
        usage = parse_usage(chunk["x_groq"].get("usage"))
    return usage


def finish_reason(raw: Any, has_calls: bool) -> FinishReason:
    return FINISH_REASONS.get(str(raw), "tool_calls" if has_calls else "stop")


def tool_calls(raw: Any, provider: str, model: str) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(item, dict):
            continue
        function = _dict(item.get("function"))
        calls.append(
            ToolCall(
                id=str(item.get("id") or f"call_{i}"),
                name=str(function.get("name") or ""),
                arguments=parse_tool_arguments(function.get("arguments") or "", provider, model),
            )
        )
    return calls


def parse_choice(choice: dict[str, Any], provider: str, model: str) -> ExtraChoice | None:
    """One plain choice: its message as parts, tool calls, finish reason and logprobs."""
    raw = choice.get("message")
    if not isinstance(raw, dict):
        return None
    if raw.keys() <= _PLAIN_MESSAGE and choice.get("logprobs") is None:
        # The common answer (text, nothing else): read directly, as build_answer would.
        content, refusal = raw.get("content"), raw.get("refusal")
        if type(content) is str and content and not refusal and not raw.get("tool_calls"):
            return ExtraChoice(
                message=AssistantMessage(content=content),
                finish_reason=finish_reason(choice.get("finish_reason"), False),
            )
    tools = [
        Piece("part", part=executed_tool(item, i))
        for i, item in enumerate(raw.get("executed_tools") or [])
        if isinstance(item, dict)
    ]
    calls = tool_calls(raw.get("tool_calls"), provider, model)
    message = build_answer(message_pieces(raw, tools)).message(calls)
    return ExtraChoice(
        message=message,
        finish_reason=finish_reason(choice.get("finish_reason"), bool(calls)),
        logprobs=parse_logprobs(choice.get("logprobs")),
    )


@dataclass
class StreamReader:
    """Turns stream chunks into stream parts, one choice at a time, remembering what needs
    more than one chunk: Groq's executed tools (announced, then completed with their
    output), OpenRouter's summary blocks."""

    executed: dict[tuple[int, int], bool] = field(default_factory=dict)
    details: dict[int, DetailState] = field(default_factory=dict)

    def read(self, chunk: dict[str, Any], req_id: str | None) -> list[StreamPart]:
        head = StreamPart(
            model=_str(chunk.get("model")), usage=chunk_usage(chunk), request_id=req_id
        )
        out: list[StreamPart] = []
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                out += self._choice(choice)
        if not out:
            return [head]
        first = out[0]
        first.model, first.usage, first.request_id = head.model, head.usage, head.request_id
        return out

    def _tools(self, index: int, raw: Any) -> list[Piece]:
        """Executed tools whose output arrived (each reported once)."""
        pieces = []
        for i, item in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(item, dict) or "output" not in item:
                continue
            position = _int(item.get("index"))
            key = (index, i if position is None else position)
            if self.executed.get(key):
                continue
            self.executed[key] = True
            pieces.append(Piece("part", part=executed_tool(item, i)))
        return pieces

    def _choice(self, choice: dict[str, Any]) -> list[StreamPart]:
        index = _int(choice.get("index")) or 0
        delta = _dict(choice.get("delta"))
        if delta.keys() <= _TEXT_ONLY and choice.get("logprobs") is None:
            plain = _text_delta(delta)
            if plain is not False:
                parts = [] if plain is None else [StreamPart(delta=plain, index=index)]
                return _with_finish(parts, choice, index)
        state = self.details.setdefault(index, DetailState())
        pieces = message_pieces(delta, self._tools(index, delta.get("executed_tools")), state)
        parts = [StreamPart(delta=d, index=index) for d in deltas(pieces)]
        raw_calls = delta.get("tool_calls") or []
        calls = [_fragment(t, i) for i, t in enumerate(raw_calls) if isinstance(t, dict)]
        logprobs = parse_logprobs(choice.get("logprobs"))
        if calls or logprobs:
            extra = Delta(tool_calls=calls or None, logprobs=logprobs)
            parts.append(StreamPart(delta=extra, index=index))
        return _with_finish(parts, choice, index)


def _with_finish(parts: list[StreamPart], choice: dict[str, Any], index: int) -> list[StreamPart]:
    """The choice's finish reason, where it has one, on its last part (a part of its own
    when the chunk brought nothing else)."""
    reason = choice.get("finish_reason")
    if reason:
        if not parts:
            parts.append(StreamPart(index=index))
        parts[-1].finish_reason = FINISH_REASONS.get(str(reason), "stop")
    return parts


# The fields of most plain answers' messages (null refusal, no or null tool calls...).
_PLAIN_MESSAGE = frozenset(
    {"role", "content", "refusal", "tool_calls", "function_call", "annotations", "audio"}
)
# The fields of most streamed deltas: text, reasoning text and refusal text as strings.
_TEXT_ONLY = frozenset({"role", "content", "reasoning_content", "reasoning", "refusal"})


def _text_delta(delta: dict[str, Any]) -> Delta | Literal[False] | None:
    """The common delta (fields of _TEXT_ONLY, each a string or null) read directly, as
    message_pieces + deltas would read it (reasoning, content, refusal: one delta in that
    order); None when it says nothing; False for anything else (a content list)."""
    content = delta.get("content")
    refusal = delta.get("refusal")
    reasoning = delta.get("reasoning_content")
    if not reasoning:
        reasoning = delta.get("reasoning")
    for value in (content, refusal, reasoning):
        if value is not None and type(value) is not str:
            return False
    if not (content or refusal or reasoning):
        return None
    return Delta(content=content or None, reasoning=reasoning or None, refusal=refusal or None)


def _fragment(raw: dict[str, Any], position: int) -> CallFragment:
    """A streamed tool call's fragment; arguments sent as a JSON value rather than text
    (some compatible servers) are taken as their JSON text."""
    function = _dict(raw.get("function"))
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    index = _int(raw.get("index"))
    return CallFragment(
        index=position if index is None else index,
        id=_str(raw.get("id")) or None,
        name=_str(function.get("name")) or None,
        arguments=arguments,
    )


__all__ = [
    "FINISH_REASONS",
    "DetailState",
    "Piece",
    "StreamReader",
    "build_answer",
    "content_pieces",
    "deltas",
    "parse_choice",
    "parse_logprobs",
    "parse_usage",
    "token_logprobs",
]
