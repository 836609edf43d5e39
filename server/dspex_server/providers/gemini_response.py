"""Gemini API: what a generateContent answer or a streamGenerateContent chunk says, as the
ordered deltas of each candidate.

A whole answer is read as a stream of one chunk, so plain and streamed answers assemble
into the same parts. Per candidate, in order: `thought` parts are reasoning (summaries);
a `thoughtSignature` on a text or other part becomes a reasoning part holding only that
signature, placed just before the part it came on (it closes a thought run it follows);
a signature on a `functionCall` stays on the call. `executableCode`/`codeExecutionResult`
and `toolCall`/`toolResponse` pairs are server-tool parts; the candidate's
`groundingMetadata` and `urlContextMetadata` are server-tool parts after the answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from dspex_protocol import (
    FinishReason,
    ReasoningPart,
    ServerToolPart,
    TokenLogprob,
    TopLogprob,
    Usage,
)

from .base import StreamPart, token_usage
from .delta import CallFragment, Delta, coalesce

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "FINISH_REASON_UNSPECIFIED": "stop",
    "OTHER": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
}
# Gemini may answer a functionCall without an id; dspex then makes one up, with this
# prefix, and never sends such an id back (Gemini matches results by name and order).
GENERATED_ID_PREFIX = "gcall_"
# Server-tool parts whose wire part had no id get one with this prefix (never sent back).
GENERATED_SERVER_ID_PREFIX = "gsrv_"
# `toolCall.toolType` (Gemini 3 server-side tool invocations) ↔ dspex's common names.
TOOL_TYPES = {
    "GOOGLE_SEARCH_WEB": "web_search",
    "GOOGLE_SEARCH_IMAGE": "image_search",
    "URL_CONTEXT": "url_context",
    "FILE_SEARCH": "file_search",
    "GOOGLE_MAPS": "google_maps",
}
CODE_EXECUTION = "code_execution"
CODE_RESULT = "codeExecutionResult"
TOOL_RESPONSE = "toolResponse"
GROUNDING = "groundingMetadata"
URL_CONTEXT = "urlContextMetadata"
# Server-tool parts made of a candidate's metadata, not of content parts: never sent back.
METADATA_RESULTS = frozenset({GROUNDING, URL_CONTEXT})


def tool_type_of(name: str) -> str:
    """The `toolType` of a server-tool part's name (the inverse of TOOL_TYPES)."""
    return next((t for t, n in TOOL_TYPES.items() if n == name), name.upper())


def parse_usage(raw: Any) -> Usage | None:
    """Thinking tokens are billed as output: completion = candidates + thoughts. Cached
    tokens are part of the prompt. Tool-use prompt tokens (search results fed to the
    model) are in Gemini's total but not in its prompt count, and stay so here."""
    if not isinstance(raw, dict):
        return None
    thoughts = raw.get("thoughtsTokenCount")
    prompt = int(raw.get("promptTokenCount") or 0)
    completion = int(raw.get("candidatesTokenCount") or 0) + int(thoughts or 0)
    return token_usage(
        prompt,
        completion,
        raw.get("totalTokenCount") or prompt + completion,
        cached=raw.get("cachedContentTokenCount"),
        reasoning=thoughts,
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """`logprobsResult`: the chosen token of each decoding step, with the step's top
    candidates (`topCandidates[i]`) as its alternatives."""
    if not isinstance(raw, dict) or not isinstance(raw.get("chosenCandidates"), list):
        return None
    tops: list[Any] = raw.get("topCandidates") or []
    tops = tops if isinstance(tops, list) else []
    out: list[TokenLogprob] = []
    for step, chosen in enumerate(raw["chosenCandidates"]):
        if not isinstance(chosen, dict):
            continue
        alternatives = (
            tops[step].get("candidates")
            if step < len(tops) and isinstance(tops[step], dict)
            else None
        )
        out.append(
            TokenLogprob(
                token=str(chosen.get("token") or ""),
                logprob=_float(chosen.get("logProbability")) or 0.0,
                top_logprobs=[
                    TopLogprob(
                        token=str(alt.get("token") or ""),
                        logprob=_float(alt.get("logProbability")) or 0.0,
                    )
                    for alt in alternatives
                    if isinstance(alt, dict)
                ]
                if isinstance(alternatives, list)
                else None,
            )
        )
    return out or None


def _merge_metadata(into: dict[str, Any], more: dict[str, Any]) -> None:
    """Metadata that a stream repeats or spreads over chunks: lists are joined without
    repeating an item, other fields take the latest value."""
    for key, value in more.items():
        known = into.get(key)
        if isinstance(known, list) and isinstance(value, list):
            known.extend(item for item in value if item not in known)
        else:
            into[key] = value


def _signature(part: dict[str, Any]) -> str | None:
    sig = part.get("thoughtSignature")
    return sig if isinstance(sig, str) and sig else None


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _without_id(value: Any) -> JsonValue:
    """A wire object as the part's input/output: its `id` is the part's own."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "id"}
    return value if value is None else str(value)


@dataclass
class _PendingTool:
    """A server-tool call waiting for its result (they may arrive in different chunks)."""

    id: str
    name: str
    input: JsonValue
    signatures: list[str] = field(default_factory=list)


class CandidateReader:
    """Reads one candidate's parts, chunk after chunk, into ordered deltas."""

    def __init__(
        self, index: int, remember_signature: Callable[[str, str], None] | None = None
    ) -> None:
        self.index = index
        self.remember_signature = remember_signature
        self.calls = 0  # function calls read so far
        self.finished = False
        self._thinking = False  # reasoning text streamed and not closed yet
        self._pending: _PendingTool | None = None
        self._grounding: dict[str, Any] = {}
        self._url_context: dict[str, Any] = {}

    def read(self, candidate: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict):
                deltas += self._part(part)
        logprobs = parse_logprobs(candidate.get("logprobsResult"))
        if logprobs:
            deltas.append(Delta(logprobs=logprobs))
        if isinstance(candidate.get(GROUNDING), dict):
            _merge_metadata(self._grounding, candidate[GROUNDING])
        if isinstance(candidate.get(URL_CONTEXT), dict):
            _merge_metadata(self._url_context, candidate[URL_CONTEXT])
        return deltas

    def close(self) -> list[Delta]:
        """The end of the candidate: a call without result, the open thought run, and the
        grounding and URL-context metadata as server-tool parts."""
        self.finished = True
        deltas = self._flush() + self._close_thoughts()
        metadata: list[ServerToolPart] = []
        grounding, url_context = self._grounding, self._url_context
        self._grounding, self._url_context = {}, {}  # told once
        if grounding:
            queries = grounding.get("webSearchQueries")
            metadata.append(
                ServerToolPart(
                    id=f"grounding-{self.index}",
                    # Google Search grounding names its queries; other sources (URL
                    # context, file search) leave only their chunks and supports.
                    name="web_search" if queries else "grounding",
                    input={"queries": queries} if isinstance(queries, list) else {},
                    output=grounding,
                    result_type=GROUNDING,
                )
            )
        if url_context:
            entries = url_context.get("urlMetadata")
            entries = entries if isinstance(entries, list) else []
            urls = [e.get("retrievedUrl") for e in entries if isinstance(e, dict)]
            statuses = [e.get("urlRetrievalStatus") for e in entries if isinstance(e, dict)]
            metadata.append(
                ServerToolPart(
                    id=f"url-context-{self.index}",
                    name="url_context",
                    input={"urls": [u for u in urls if isinstance(u, str)]},
                    output=url_context,
                    result_type=URL_CONTEXT,
                    is_error=bool(statuses)
                    and all(s != "URL_RETRIEVAL_STATUS_SUCCESS" for s in statuses),
                )
            )
        if metadata:
            deltas.append(Delta(parts=list(metadata)))
        return deltas

    def _part(self, part: dict[str, Any]) -> list[Delta]:
        sig = _signature(part)
        if part.get("thought"):
            return self._thought(part, sig)
        if isinstance(part.get("functionCall"), dict):
            return self._function_call(part["functionCall"], sig)
        if isinstance(part.get("executableCode"), dict):
            code = part["executableCode"]
            return self._open_tool(code.get("id"), CODE_EXECUTION, _without_id(code), sig)
        if isinstance(part.get("codeExecutionResult"), dict):
            result = part["codeExecutionResult"]
            failed = result.get("outcome") not in (None, "OUTCOME_OK")
            return self._close_tool(
                result.get("id"), CODE_EXECUTION, result, CODE_RESULT, sig, failed
            )
        if isinstance(part.get("toolCall"), dict):
            call = part["toolCall"]
            args = call.get("args")
            return self._open_tool(call.get("id"), _tool_name(call), args if args else {}, sig)
        if isinstance(part.get("toolResponse"), dict):
            response = part["toolResponse"]
            return self._close_tool(
                response.get("id"), _tool_name(response), response, TOOL_RESPONSE, sig, False
            )
        text = part.get("text")
        if isinstance(text, str):
            if not text and sig is None:
                return []  # an empty piece, nothing to place
            deltas = self._flush() + self._signed(sig)
            if text:
                deltas.append(Delta(content=text))
            return deltas
        # A kind dspex does not carry (inline image output, ...): skipped, its signature
        # kept where it came.
        return self._flush() + self._signed(sig) if sig else []

    def _thought(self, part: dict[str, Any], sig: str | None) -> list[Delta]:
        # A signature on a thought part closes the run before it (or stands alone), so
        # that it is sent back on this thought part (gemini_request places it).
        deltas = self._signed(sig) if sig else []
        text = part.get("text")
        if isinstance(text, str) and text:
            deltas.append(Delta(reasoning=text))
            self._thinking = True
        return deltas

    def _signed(self, sig: str | None) -> list[Delta]:
        """The signature of the part that follows, placed before it; an open thought run
        ends here (its summary flag set, the signature closing it)."""
        if self._thinking:
            self._thinking = False
            return [Delta(parts=[ReasoningPart(summary=True, signature=sig)])]
        return [Delta(parts=[ReasoningPart(signature=sig)])] if sig else []

    def _close_thoughts(self) -> list[Delta]:
        return self._signed(None)

    def _function_call(self, call: dict[str, Any], sig: str | None) -> list[Delta]:
        args = call.get("args") if call.get("args") is not None else {}
        call_id = str(call.get("id") or "") or _new_id(GENERATED_ID_PREFIX)
        if sig is not None and self.remember_signature is not None:
            self.remember_signature(call_id, sig)
        delta = CallFragment(
            index=self.calls,
            id=call_id,
            name=str(call.get("name") or ""),
            # Gemini sends each call whole: one fragment holds all its arguments.
            arguments=json.dumps(args),
            signature=sig,
        )
        self.calls += 1
        return [*self._flush(), *self._close_thoughts(), Delta(tool_calls=[delta])]

    def _open_tool(
        self, wire_id: Any, name: str, tool_input: JsonValue, sig: str | None
    ) -> list[Delta]:
        deltas = self._flush() + self._close_thoughts()
        self._pending = _PendingTool(
            id=str(wire_id) if wire_id else _new_id(GENERATED_SERVER_ID_PREFIX),
            name=name,
            input=tool_input,
            signatures=[sig] if sig else [],
        )
        return deltas

    def _close_tool(
        self,
        wire_id: Any,
        name: str,
        result: dict[str, Any],
        result_type: str,
        sig: str | None,
        failed: bool,
    ) -> list[Delta]:
        pending, deltas = self._pending, []
        matches = (
            pending is not None
            and pending.name == name
            and (
                not wire_id
                or pending.id.startswith(GENERATED_SERVER_ID_PREFIX)
                or pending.id == str(wire_id)
            )
        )
        if not matches or pending is None:  # a result without its call: one part all the same
            deltas = self._flush() + self._close_thoughts()
            pending = _PendingTool(
                id=str(wire_id) if wire_id else _new_id(GENERATED_SERVER_ID_PREFIX),
                name=name,
                input={},
            )
        self._pending = None
        if sig:
            pending.signatures.append(sig)
        output = result.get("response") if result_type == TOOL_RESPONSE else _without_id(result)
        deltas.append(self._server_part(pending, output, result_type, failed))
        return deltas

    def _flush(self) -> list[Delta]:
        """A server-tool call whose result did not come: a part without output."""
        if self._pending is None:
            return []
        pending, self._pending = self._pending, None
        return [self._server_part(pending, None, None, False)]

    @staticmethod
    def _server_part(
        pending: _PendingTool, output: Any, result_type: str | None, failed: bool
    ) -> Delta:
        signed = [ReasoningPart(signature=s) for s in pending.signatures]
        tool = ServerToolPart(
            id=pending.id,
            name=pending.name,
            input=pending.input,
            output=output,
            result_type=result_type,
            is_error=failed,
        )
        return Delta(parts=[*signed, tool])


def _tool_name(wire: dict[str, Any]) -> str:
    tool_type = str(wire.get("toolType") or "TOOL_TYPE_UNSPECIFIED")
    return TOOL_TYPES.get(tool_type, tool_type.lower())


class AnswerReader:
    """The candidates of one answer: a whole generateContent answer, or a stream read
    chunk after chunk. `invalid` makes the error for a payload that breaks the format."""

    def __init__(
        self,
        invalid: Callable[[str], Exception],
        remember_signature: Callable[[str, str], None] | None = None,
    ) -> None:
        self.invalid = invalid
        self.remember_signature = remember_signature
        self.candidates: dict[int, CandidateReader] = {}
        self.blocked = False

    @property
    def finished(self) -> bool:
        """A prompt blocked, or every candidate seen has its finish reason."""
        return self.blocked or (
            bool(self.candidates) and all(c.finished for c in self.candidates.values())
        )

    def read(self, payload: Any, *, last: bool = False) -> list[StreamPart]:
        """The stream parts of one payload (at least one: usage and ids travel on the last);
        `last`: no more payloads follow, every candidate ends here."""
        if not isinstance(payload, dict):
            raise self.invalid("the response is not an object")
        parts: list[StreamPart] = []
        candidates = payload.get("candidates")
        if candidates is not None and not isinstance(candidates, list):
            raise self.invalid("the response's candidates is not a list")
        if not candidates:
            feedback = payload.get("promptFeedback")
            if isinstance(feedback, dict) and feedback.get("blockReason"):
                self.blocked = True  # the prompt was blocked before any candidate
                parts.append(StreamPart(finish_reason="content_filter"))
            elif "usageMetadata" not in payload:  # a usage-only chunk is fine
                raise self.invalid("the response has no candidates")
        for position, candidate in enumerate(candidates or ()):
            if not isinstance(candidate, dict):
                raise self.invalid("a candidate is not an object")
            parts += self._candidate(candidate, position)
        if last:
            for reader in self.candidates.values():
                if not reader.finished:
                    parts += [
                        StreamPart(delta=d, index=reader.index) for d in coalesce(reader.close())
                    ]
        if not parts:
            parts.append(StreamPart())
        response_id = payload.get("responseId")
        parts[-1].usage = parse_usage(payload.get("usageMetadata"))
        parts[-1].model = _str(payload.get("modelVersion"))
        parts[-1].response_id = _str(response_id)
        return parts

    def _candidate(self, candidate: dict[str, Any], position: int) -> list[StreamPart]:
        index = candidate.get("index")
        index = index if isinstance(index, int) and index >= 0 else position
        reader = self.candidates.get(index)
        if reader is None:
            reader = self.candidates[index] = CandidateReader(index, self.remember_signature)
        deltas = reader.read(candidate)
        raw = candidate.get("finishReason")
        finish: FinishReason | None = None
        if isinstance(raw, str) and raw:
            deltas += [] if reader.finished else reader.close()
            finish = FINISH_REASONS.get(raw, "stop")
            if finish == "stop" and reader.calls:
                finish = "tool_calls"
        parts = [StreamPart(delta=d, index=index) for d in coalesce(deltas)]
        if finish is not None:
            if parts:
                parts[-1].finish_reason = finish
            else:
                parts.append(StreamPart(finish_reason=finish, index=index))
        return parts


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
