"""Converse / ConverseStream: a ProviderRequest as the request body.

Converse wants system text apart, tool results as user turns and strictly alternating
roles (consecutive turns of one role are merged). Blobs (image, document, audio bytes)
are base64 text in the JSON protocol. A `cachePoint` block follows the message, part,
system text or tool marked with `cacheControl`."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

from dspex_protocol import (
    AudioPart,
    CacheControl,
    ContentPart,
    DocumentPart,
    ErrorKind,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ServerToolPart,
    TextPart,
)

from ..errors import DspexError
from .base import ProviderRequest, without_none
from .bedrock_models import NOVA_SYSTEM_TOOLS, reasoning_fields
from .messages import json_instruction

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
AUDIO_FORMATS = {
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
    "audio/aac": "aac",
    "audio/x-aac": "x-aac",
    "audio/flac": "flac",
    "audio/mp4": "mp4",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "audio/webm": "webm",
    "audio/pcm": "pcm",
}
# A document name may hold only alphanumerics, single whitespace, hyphens, parentheses
# and square brackets (at most 200 characters).
_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")
DOCUMENT_NAME_MAX = 200
# requestMetadata: at most 16 pairs; keys 1-256 and values 0-256 of these characters.
METADATA_MAX_PAIRS = 16
_METADATA_KEY = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}")
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}")


class _Builder:
    """One request's conversion: names documents uniquely, knows provider and model."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider, self.model = provider, model
        self.document_names: set[str] = set()
        self.server_tools_used: set[str] = set()

    def refuse(self, message: str) -> DspexError:
        return DspexError(
            ErrorKind.INVALID_MESSAGES, message, provider=self.provider, model=self.model
        )

    # -- sources -------------------------------------------------------------------------

    def _source(
        self, part: ImagePart | DocumentPart | AudioPart, kind: str
    ) -> tuple[dict[str, Any], str | None]:
        """The block's `source` and the media type: inline bytes, or an S3 location."""
        if part.url is not None and part.url.startswith("s3://"):
            parsed = urlparse(part.url)
            location: dict[str, Any] = {"uri": f"s3://{parsed.netloc}{parsed.path}"}
            owner = parse_qs(parsed.query).get("bucketOwner")
            if owner:
                location["bucketOwner"] = owner[0]
            return {"s3Location": location}, part.mime_type
        if part.url is not None and not part.url.startswith("data:"):
            raise self.refuse(
                f"Bedrock takes a {kind} as inline data (base64 or a data: URL) or an "
                f"s3:// URL, not {urlparse(part.url).scheme or 'this'} URLs"
            )
        if part.data is not None:
            mime, data = part.mime_type, part.data
        else:
            header, _, data = (part.url or "")[5:].partition(",")
            mime = header.split(";", 1)[0] or part.mime_type
            if not header.endswith(";base64"):
                raise self.refuse(f"a {kind} data URL must be base64-encoded")
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise self.refuse(f"{kind} data is not valid base64") from None
        return {"bytes": data}, mime

    def _format(self, mime: str | None, url: str | None, formats: dict[str, str], kind: str) -> str:
        fmt = formats.get((mime or "").lower())
        if fmt is None and mime is None and url is not None:  # an S3 object: its extension
            extension = urlparse(url).path.rsplit(".", 1)[-1].lower()
            fmt = extension if extension in formats.values() else None
        if fmt is None:
            raise self.refuse(
                f"Bedrock takes {kind}s of types {', '.join(sorted(formats))}, not "
                f"{mime or 'an unknown type'}"
            )
        return fmt

    def image(self, part: ImagePart) -> dict[str, Any]:
        source, mime = self._source(part, "image")
        fmt = self._format(mime, part.url, IMAGE_FORMATS, "image")
        return {"image": {"format": fmt, "source": source}}

    def document(self, part: DocumentPart) -> dict[str, Any]:
        source, mime = self._source(part, "document")
        fmt = self._format(mime, part.url, DOCUMENT_FORMATS, "document")
        return {
            "document": {"format": fmt, "name": self._document_name(part.name), "source": source}
        }

    def audio(self, part: AudioPart) -> dict[str, Any]:
        source, mime = self._source(part, "audio")
        fmt = self._format(mime, part.url, AUDIO_FORMATS, "audio")
        return {"audio": {"format": fmt, "source": source}}

    def _document_name(self, name: str | None) -> str:
        """A name as Converse allows it (the extension dropped, other characters
        spaced out), unique within the request."""
        stem = (name or "").rsplit(".", 1)[0]
        base = " ".join(_NAME_FORBIDDEN.sub(" ", stem).split())[:DOCUMENT_NAME_MAX].strip()
        base = base or "document"
        candidate, n = base, 1
        while candidate in self.document_names:
            n += 1
            suffix = f" ({n})"
            candidate = base[: DOCUMENT_NAME_MAX - len(suffix)] + suffix
        self.document_names.add(candidate)
        return candidate

    # -- content -------------------------------------------------------------------------

    def cache_point(self, blocks: list[dict[str, Any]], cache: CacheControl) -> None:
        if not blocks:
            raise self.refuse("a cache point needs content before it")
        if "document" in blocks[-1]:
            raise self.refuse(
                "Bedrock takes no cache point right after a document: mark the text part "
                "after it (or the message, with text last) instead"
            )
        blocks.append({"cachePoint": without_none({"type": "default", "ttl": cache.ttl})})

    def part(self, part: ContentPart, blocks: list[dict[str, Any]]) -> None:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(self.image(part))
        elif isinstance(part, DocumentPart):
            blocks.append(self.document(part))
        elif isinstance(part, AudioPart):
            blocks.append(self.audio(part))
        elif isinstance(part, ReasoningPart):
            reasoning = _reasoning_block(part)
            if reasoning is not None:
                blocks.append(reasoning)
        elif isinstance(part, ServerToolPart):
            blocks.extend(self.server_tool_blocks(part))
        cache = getattr(part, "cache_control", None)
        if cache is not None:
            self.cache_point(blocks, cache)

    def server_tool_blocks(self, part: ServerToolPart) -> list[dict[str, Any]]:
        """A built-in tool's call and result as the answer carried them."""
        if part.result_type == CITATIONS_RESULT:
            return []  # grounding citations: their text travels as the text parts
        self.server_tools_used.add(part.name)
        use = {
            "toolUseId": part.id,
            "name": part.name,
            "input": part.input,
            "type": SERVER_TOOL_USE,
        }
        blocks: list[dict[str, Any]] = [{"toolUse": use}]
        if part.output is not None:
            content = part.output if isinstance(part.output, list) else [{"json": part.output}]
            result = {
                "toolUseId": part.id,
                "content": content,
                "type": part.result_type,
                "status": "error" if part.is_error else "success",
            }
            blocks.append({"toolResult": without_none(result)})
        return blocks

    def blocks(self, message: Message) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if message.role == "tool":
            result = {"toolUseId": message.tool_call_id, "content": [{"text": message.text()}]}
            blocks.append({"toolResult": {**result, "status": "success"}})
        else:
            for part in message.content_parts():
                self.part(part, blocks)
        for call in message.tool_calls or ():
            blocks.append(
                {"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}}
            )
        if message.cache_control is not None:
            self.cache_point(blocks, message.cache_control)
        return blocks

    def system(self, message: Message) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for part in message.content_parts():
            if not isinstance(part, TextPart):
                raise self.refuse(f"a system message holds text only, not {part.type} parts")
            if part.text:
                blocks.append({"text": part.text})
            if part.cache_control is not None:
                self.cache_point(blocks, part.cache_control)
        if message.cache_control is not None:
            self.cache_point(blocks, message.cache_control)
        return blocks


SERVER_TOOL_USE = "server_tool_use"
CITATIONS_RESULT = "citationsContent"  # the result_type of a grounding's citations


def _reasoning_block(part: ReasoningPart) -> dict[str, Any] | None:
    """Signed or redacted reasoning goes back unchanged; reasoning without either
    (models that do not sign theirs) is not sent, like `Message.reasoning`."""
    if part.data is not None:
        return {"reasoningContent": {"redactedContent": part.data}}
    if part.signature is not None:
        text = {"text": part.text or "", "signature": part.signature}
        return {"reasoningContent": {"reasoningText": text}}
    return None


def converse_body(request: ProviderRequest, provider: str) -> dict[str, Any]:
    build = _Builder(provider, request.model)
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    has_tool_blocks = False
    for message in request.messages:
        if message.role == "system":
            system.extend(build.system(message))
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = build.blocks(message)
        has_tool_blocks = has_tool_blocks or message.role == "tool" or bool(message.tool_calls)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        # Converse constrains output to a JSON Schema only: json_object is asked in words.
        system.append({"text": json_instruction(fmt) or ""})
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    max_tokens, extra = request.max_tokens, None
    if request.reasoning is not None:
        extra, max_tokens = reasoning_fields(
            request.reasoning, request.max_tokens, provider, request.model
        )
    config = without_none(
        {
            "maxTokens": max_tokens,
            "temperature": request.temperature,
            "topP": request.top_p,
            "stopSequences": request.stop,
        }
    )
    if config:
        body["inferenceConfig"] = config
    tool_config = _tool_config(request, build, has_tool_blocks)
    if tool_config:
        body["toolConfig"] = tool_config
    if extra:
        body["additionalModelRequestFields"] = extra
    if fmt is not None and fmt.type == "json_schema":
        body["outputConfig"] = _output_config(request, build)
    if request.metadata:
        body["requestMetadata"] = _request_metadata(request.metadata, build)
    return body


def _output_config(request: ProviderRequest, build: _Builder) -> dict[str, Any]:
    fmt = request.response_format
    assert fmt is not None
    if not fmt.json_schema:
        raise build.refuse("responseFormat json_schema needs a schema")
    definition = {"name": fmt.name or "response", "schema": json.dumps(fmt.json_schema)}
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def _request_metadata(metadata: dict[str, str], build: _Builder) -> dict[str, str]:
    if len(metadata) > METADATA_MAX_PAIRS:
        raise build.refuse(f"Bedrock takes at most {METADATA_MAX_PAIRS} metadata pairs")
    for key, value in metadata.items():
        if not _METADATA_KEY.fullmatch(key) or not _METADATA_VALUE.fullmatch(value):
            raise build.refuse(
                f"metadata {key!r}: Bedrock takes keys of 1-256 and values of 0-256 letters, "
                "digits, whitespace and :_@$#=/+,-."
            )
    return metadata


def _tool_config(
    request: ProviderRequest, build: _Builder, has_tool_blocks: bool
) -> dict[str, Any] | None:
    choice = request.tool_choice
    tools: list[dict[str, Any]] = []
    # Converse has no "none": tools must still be declared when the history holds tool
    # blocks, else they are left out so that the model cannot call one.
    if request.tools and (choice != "none" or has_tool_blocks):
        for tool in request.tools:
            spec = {
                "name": tool.name,
                "description": tool.description or None,
                "inputSchema": {"json": tool.parameters},
                "strict": True if tool.strict else None,
            }
            tools.append({"toolSpec": without_none(spec)})
            if tool.cache_control is not None:
                cache = without_none({"type": "default", "ttl": tool.cache_control.ttl})
                tools.append({"cachePoint": cache})
    declared: list[str] = []
    for wanted in request.server_tools or ():
        name = NOVA_SYSTEM_TOOLS.get(wanted.name)
        if name is None:
            raise build.refuse(
                f"Bedrock runs the server tools {', '.join(sorted(NOVA_SYSTEM_TOOLS))} "
                f"(Nova's built-in tools), not {wanted.name!r}"
            )
        if wanted.config:
            raise build.refuse(f"Nova's {name} takes no options (config must be empty)")
        declared.append(name)
    # A history holding a built-in tool's use declares that tool again.
    declared += sorted(build.server_tools_used - set(declared))
    tools += [{"systemTool": {"name": name}} for name in declared]
    if not tools:
        return None
    config: dict[str, Any] = {"tools": tools}
    if not request.tools or (choice == "none"):
        return config
    if isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config
