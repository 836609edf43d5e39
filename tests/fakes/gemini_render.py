"""How the fake Gemini API renders a Reply: candidate parts as the Gemini API documents
them (thought parts with `thought: true`, `thoughtSignature` on the part after a thought
run, executableCode/codeExecutionResult, toolCall/toolResponse, groundingMetadata), whole
for generateContent and in chunks for streamGenerateContent; several candidates for
`candidateCount`, `logprobsResult` when asked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .base import Refusal, Reply, ServerTool, Thinking, split_text

FAKE_SIGNATURE = "CiQB0e2Kb3FakeThoughtSignature=="
TOOL_TYPES = {
    "web_search": "GOOGLE_SEARCH_WEB",
    "url_context": "URL_CONTEXT",
    "file_search": "FILE_SEARCH",
    "google_maps": "GOOGLE_MAPS",
}
_TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass
class Options:
    """What the request asked for that changes the answer's shape."""

    candidates: int = 1
    logprobs: bool = False
    top_logprobs: int = 0

    @classmethod
    def of(cls, body: Any) -> Options:
        config = body.get("generationConfig") if isinstance(body, dict) else None
        config = config if isinstance(config, dict) else {}
        return cls(
            candidates=int(config.get("candidateCount") or 1),
            logprobs=bool(config.get("responseLogprobs")),
            top_logprobs=int(config.get("logprobs") or 0),
        )


@dataclass
class Rendered:
    """One candidate: its parts, in order, and its candidate-level metadata."""

    parts: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def candidate_reply(reply: Reply, index: int) -> Reply:
    """Candidate `index` of a reply: the others differ in their last text."""
    if index == 0:
        return reply
    blocks = list(reply.blocks or ([reply.text] if reply.text else []))
    last = max((i for i, b in enumerate(blocks) if isinstance(b, str)), default=None)
    if last is None:
        blocks.append(f"candidate {index}")
    else:
        blocks[last] = f"{blocks[last]} (candidate {index})"
    return Reply(
        tool_calls=reply.tool_calls,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        finish_reason=reply.finish_reason,
        blocks=blocks,
        reasoning_tokens=reply.reasoning_tokens,
        cached_tokens=reply.cached_tokens,
    )


def render(reply: Reply) -> Rendered:
    """The parts of one candidate. A thinking block's signature goes on the part that
    follows the thought run (a text, a call), as Gemini places it, or on an empty text
    part when nothing follows."""
    out = Rendered()
    pending: str | None = None

    def add(part: dict[str, Any]) -> None:
        nonlocal pending
        if pending is not None and "thoughtSignature" not in part:
            part["thoughtSignature"] = pending
        pending = None
        out.parts.append(part)

    for block in reply.blocks or ([reply.text] if reply.text else []):
        if isinstance(block, str):
            add({"text": block})
        elif isinstance(block, Thinking):
            if block.redacted is not None:
                raise TypeError("Gemini has no redacted thinking")
            if block.text:  # an empty one is a bare signature (Gemini 3's last part)
                out.parts.append({"text": block.text, "thought": True})
            pending = block.signature or pending
        elif isinstance(block, ServerTool):
            for part in _server_tool(block, out.metadata):
                add(part)
        elif isinstance(block, Refusal):
            raise TypeError("Gemini has no refusal part (a refusal is a SAFETY finish)")
    for n, call in enumerate(reply.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call["name"], "args": call["arguments"]}}
        if call.get("gemini_id"):  # Gemini 3 sends call ids; 2.5 sends none
            part["functionCall"]["id"] = call["gemini_id"]
        # The first call of a step carries the signature (parallel calls).
        signature = call.get("signature") or (pending or FAKE_SIGNATURE if n == 0 else None)
        if signature:
            part["thoughtSignature"] = signature
        pending = None
        out.parts.append(part)
    if pending is not None:
        out.parts.append({"text": "", "thoughtSignature": pending})
    return out


def _server_tool(tool: ServerTool, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    if tool.result_type == "groundingMetadata":
        metadata["groundingMetadata"] = {
            **({"webSearchQueries": tool.input["queries"]} if "queries" in tool.input else {}),
            **tool.output,
        }
        return []
    if tool.result_type == "urlContextMetadata":
        metadata["urlContextMetadata"] = tool.output
        return []
    if tool.name == "code_execution":
        code = {"language": tool.input.get("language", "PYTHON"), "code": tool.input["code"]}
        parts: list[dict[str, Any]] = [{"executableCode": {**code, "id": tool.id}}]
        if tool.output is not None:
            parts.append({"codeExecutionResult": {**tool.output, "id": tool.id}})
        return parts
    tool_type = TOOL_TYPES[tool.name]
    return [
        {"toolCall": {"id": tool.id, "toolType": tool_type, "args": tool.input}},
        {"toolResponse": {"id": tool.id, "toolType": tool_type, "response": tool.output}},
    ]


def _logprobs(text: str, options: Options, start: int = 0) -> dict[str, Any]:
    tokens = _TOKEN.findall(text)
    chosen = [
        {"token": t, "tokenId": start + n, "logProbability": round(-0.25 * (n % 4 + 1), 2)}
        for n, t in enumerate(tokens)
    ]
    top = [
        {
            "candidates": [
                c,
                *(
                    {"token": f"alt{k}", "tokenId": 9000 + k, "logProbability": -3.0 - k}
                    for k in range(1, options.top_logprobs)
                ),
            ][: options.top_logprobs]
        }
        for c in chosen
    ]
    return {
        "topCandidates": top,
        "chosenCandidates": chosen,
        "logProbabilitySum": round(sum(c["logProbability"] for c in chosen), 2),
    }


def candidate(
    rendered: Rendered, index: int, finish: str | None, options: Options
) -> dict[str, Any]:
    """A candidate object holding `rendered`'s parts (the whole answer or one chunk)."""
    out: dict[str, Any] = {"content": {"parts": rendered.parts, "role": "model"}, "index": index}
    if options.logprobs:
        text = "".join(p["text"] for p in rendered.parts if "text" in p and not p.get("thought"))
        out["logprobsResult"] = _logprobs(text, options)
        chosen = out["logprobsResult"]["chosenCandidates"]
        if chosen:
            out["avgLogprobs"] = out["logprobsResult"]["logProbabilitySum"] / len(chosen)
    if finish:
        out["finishReason"] = finish
        out.update(rendered.metadata)
    return out


def chunked(rendered: Rendered) -> list[Rendered]:
    """A candidate's parts as a stream sends them: text and thoughts in pieces (a part's
    signature on its first piece), each tool part in a chunk of its own, function calls
    together; the metadata rides on the last chunk."""
    chunks: list[Rendered] = []
    calls: list[dict[str, Any]] = []
    for part in rendered.parts:
        if "functionCall" in part:
            calls.append(part)
            continue
        text = part.get("text")
        if isinstance(text, str) and text:
            for n, piece in enumerate(split_text(text)):
                one = {**part, "text": piece}
                if n:
                    one.pop("thoughtSignature", None)
                chunks.append(Rendered(parts=[one]))
        else:
            chunks.append(Rendered(parts=[part]))
    if calls:
        chunks.append(Rendered(parts=calls))
    if not chunks:
        chunks.append(Rendered())
    chunks[-1].metadata = rendered.metadata
    return chunks
