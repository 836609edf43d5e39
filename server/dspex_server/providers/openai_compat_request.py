"""Building Chat Completions requests for one provider row (its `Dialect`): messages with
their parts (images, documents, audio, an earlier answer's reasoning where the API takes it
back), tools, and the options the row maps. A value the row cannot honour raises
`Refused` before anything is sent."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from dspex_protocol import (
    AudioPart,
    CacheControl,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    RefusalPart,
    TextPart,
)

from ..catalog.data import lookup
from .base import ProviderRequest
from .compat_dialects import Dialect, Refused

AUDIO_FORMATS = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
OPENAI_USER_MAX = 64  # safety_identifier's documented maximum length


def _cache(control: CacheControl) -> dict[str, Any]:
    return control.model_dump(exclude_none=True)


def _data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a base64 `data:` URL."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, data = url[5:].split(",", 1)
    if not header.endswith(";base64"):
        return None
    return header.split(";", 1)[0] or "application/octet-stream", data


def _inline(part: DocumentPart | AudioPart, what: str) -> tuple[str, str]:
    """(media type, base64 data) of a part given inline or as a data: URL; a remote URL
    is refused (these parts take bytes)."""
    if part.data is not None:
        mime, data = part.mime_type or "application/octet-stream", part.data
    elif part.url is not None and (unpacked := _data_url(part.url)) is not None:
        mime, data = unpacked
    else:
        raise Refused(f"{what} take inline data only (base64 data or a data: URL), not a URL")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{what} data is not valid base64") from None
    return mime, data


def _document(part: DocumentPart, dialect: Dialect) -> dict[str, Any]:
    if dialect.documents is None:
        raise Refused("document parts are not accepted")
    if dialect.documents == "document_url":  # Mistral: a URL or a data: URL
        if part.url is not None:
            return {"type": "document_url", "document_url": part.url}
        mime, data = _inline(part, "documents")
        return {"type": "document_url", "document_url": f"data:{mime};base64,{data}"}
    if part.url is not None and dialect.document_urls and _data_url(part.url) is None:
        file_data = part.url
    else:
        mime, data = _inline(part, "documents")
        file_data = f"data:{mime};base64,{data}"
    ext = (part.mime_type or "application/pdf").rsplit("/", 1)[-1].split("+")[0]
    return {
        "type": "file",
        "file": {"file_data": file_data, "filename": part.name or f"document.{ext}"},
    }


def _audio(part: AudioPart, dialect: Dialect) -> dict[str, Any]:
    if not dialect.audio:
        raise Refused("audio parts are not accepted")
    mime, data = _inline(part, "audio parts")
    fmt = AUDIO_FORMATS.get(mime.lower())
    if fmt is None:
        raise Refused(f"audio must be WAV or MP3 (input_audio), not {mime}")
    return {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}


def _user_part(part: ContentPart, dialect: Dialect) -> dict[str, Any] | None:
    out: dict[str, Any]
    if isinstance(part, TextPart):
        out = {"type": "text", "text": part.text}
    elif isinstance(part, ImagePart):
        url = part.url or f"data:{part.mime_type};base64,{part.data}"
        out = {"type": "image_url", "image_url": {"url": url}}
    elif isinstance(part, DocumentPart):
        out = _document(part, dialect)
    elif isinstance(part, AudioPart):
        out = _audio(part, dialect)
    else:
        return None  # assistant-only parts in another role: nothing to send
    control = getattr(part, "cache_control", None)
    if control is not None and dialect.cache == "parts":
        if not isinstance(part, TextPart):
            raise Refused("cacheControl is sent on text parts only (OpenRouter)")
        out["cache_control"] = _cache(control)
    return out


def _content(message: Message, dialect: Dialect) -> str | list[dict[str, Any]] | None:
    if message.content is None or isinstance(message.content, str):
        return message.content
    parts = [p for p in (_user_part(part, dialect) for part in message.content) if p]
    return parts


def _mark_message_cache(content: Any, control: CacheControl) -> list[dict[str, Any]]:
    """A message's cacheControl on its last text part (OpenRouter's breakpoints sit on
    content parts)."""
    parts: list[dict[str, Any]] = (
        [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    )
    texts = [p for p in parts if p.get("type") == "text"]
    if not texts:
        raise Refused("cacheControl on a message needs a text part to mark")
    texts[-1]["cache_control"] = _cache(control)
    return parts


def _reasoning_details(parts: list[ReasoningPart]) -> list[dict[str, Any]]:
    """An answer's reasoning as OpenRouter's `reasoning_details`, as it came."""
    details: list[dict[str, Any]] = []
    for part in parts:
        common = {k: v for k, v in (("id", part.id), ("format", part.format)) if v is not None}
        if part.text and part.summary:
            details.append({"type": "reasoning.summary", "summary": part.text, **common})
        elif part.text or part.signature:
            item: dict[str, Any] = {"type": "reasoning.text", "text": part.text or ""}
            if part.signature:
                item["signature"] = part.signature
            details.append({**item, **common})
        if part.data:
            details.append({"type": "reasoning.encrypted", "data": part.data, **common})
    return [{**d, "index": i} for i, d in enumerate(details)]


def _assistant(message: Message, dialect: Dialect) -> dict[str, Any]:
    """An assistant turn: its text as content; its reasoning where the API takes it back
    (OpenRouter `reasoning_details`, Mistral `thinking` chunks); a refusal as OpenAI's
    `refusal` field (elsewhere as text, so the model sees what it said)."""
    out: dict[str, Any] = {"role": "assistant"}
    if not isinstance(message.content, list):
        out["content"] = message.content
        return out
    texts: list[str] = []
    chunks: list[dict[str, Any]] = []
    reasoning: list[ReasoningPart] = []
    refusals: list[str] = []
    for part in message.content:
        if isinstance(part, TextPart):
            texts.append(part.text)
            chunks.append({"type": "text", "text": part.text})
        elif isinstance(part, ReasoningPart):
            reasoning.append(part)
            if part.text and not part.summary:
                chunks.append(
                    {"type": "thinking", "thinking": [{"type": "text", "text": part.text}]}
                )
        elif isinstance(part, RefusalPart):
            refusals.append(part.text)
    if refusals and not dialect.refusal_field:
        texts += refusals
        chunks += [{"type": "text", "text": t} for t in refusals]
        refusals = []
    thinking = dialect.reasoning_back == "thinking" and any(c["type"] == "thinking" for c in chunks)
    out["content"] = chunks if thinking else ("".join(texts) if texts else None)
    if refusals:
        out["refusal"] = "".join(refusals)
    if dialect.reasoning_back == "details" and reasoning:
        out["reasoning_details"] = _reasoning_details(reasoning)
    return out


def message_to_wire(message: Message, dialect: Dialect) -> dict[str, Any]:
    if message.role == "assistant":
        out = _assistant(message, dialect)
    else:
        out = {"role": message.role, "content": _content(message, dialect)}
    if message.cache_control is not None and dialect.cache == "parts":
        out["content"] = _mark_message_cache(out.get("content"), message.cache_control)
    if message.name:
        out["name"] = message.name
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        out["tool_call_id"] = message.tool_call_id
    return out


def _tools(request: ProviderRequest, dialect: Dialect) -> list[dict[str, Any]]:
    tools = []
    for t in request.tools or []:
        if t.cache_control is not None and dialect.cache == "parts":
            raise Refused("cacheControl on tools is not sent to OpenRouter (mark a message)")
        function: dict[str, Any] = {"name": t.name}
        if t.description:
            function["description"] = t.description
        function["parameters"] = t.parameters
        if t.strict is not None:
            function["strict"] = t.strict
        tools.append({"type": "function", "function": function})
    return tools


def _options(request: ProviderRequest, dialect: Dialect) -> dict[str, Any]:
    optional: dict[str, Any] = {
        "temperature": request.temperature,
        dialect.max_tokens_field: request.max_tokens,
        "top_p": request.top_p,
        "stop": request.stop,
        dialect.seed_field: request.seed,
        "n": request.n if request.n not in (None, 1) else None,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
    }
    body = {k: v for k, v in optional.items() if v is not None}
    if request.logprobs or request.top_logprobs is not None:
        body["logprobs"] = True
        if request.top_logprobs is not None:
            body["top_logprobs"] = request.top_logprobs
    if request.user is not None:
        if dialect.user_field == "safety_identifier" and len(request.user) > OPENAI_USER_MAX:
            raise Refused(f"OpenAI's safety_identifier takes at most {OPENAI_USER_MAX} characters")
        body[dialect.user_field] = request.user
    if request.metadata is not None:
        body["metadata"] = request.metadata
        if dialect.metadata_needs_store:
            # Chat Completions metadata tags stored completions: it is only taken with store.
            body["store"] = True
    return body


def build_body(request: ProviderRequest, dialect: Dialect, provider: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [message_to_wire(m, dialect) for m in request.messages],
    }
    body.update(_options(request, dialect))
    if request.stop and dialect.stop_refused_when_reasoning:
        entry = lookup(provider, request.model)
        if entry is not None and "reasoning" in entry.capabilities:
            raise Refused(f"stop is not accepted by {provider}'s reasoning models")
    if request.tools:
        body["tools"] = _tools(request, dialect)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        body["tool_choice"] = choice
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema":
        schema: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.json_schema or {}}
        if fmt.strict is not None:
            schema["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": schema}
    if request.reasoning is not None and dialect.reasoning is not None:
        body.update(dialect.reasoning(request.model, request.reasoning))
    if request.server_tools and dialect.server_tools is not None:
        body.update(dialect.server_tools(request.model, request.server_tools))
    return body
