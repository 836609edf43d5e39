"""The Responses API request (POST {base}/responses): a ProviderRequest as its JSON body.

The history becomes `input` items: leading system messages the `instructions`, user
messages with `input_text` / `input_image` / `input_file` content, tool results
`function_call_output` items, and an earlier answer its output items again, in order:
reasoning items (id, summary, encrypted content), messages, server-tool items, then its
`function_call` items.

An answer's items are linked: a reasoning item must be followed by the item that
followed it, by id, and that item (a message or function call) must come with its
reasoning item; the API refuses either alone. An answer is therefore sent with its ids
only when every reasoning item of it can be sent (it has an id, and its encrypted content
where responses are not stored); otherwise its reasoning is left out and its messages and
calls go without ids, unlinked, as any client-written history does.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Any

from dspex_protocol import (
    DocumentPart,
    ErrorKind,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    RefusalPart,
    ServerToolPart,
    TextPart,
    ToolCall,
)

from ..errors import DspexError
from .base import ProviderRequest, without_none

# dspex's common server-tool names → the Responses API's tool types.
SERVER_TOOLS: dict[str, str] = {
    "web_search": "web_search",
    "file_search": "file_search",
    "code_execution": "code_interpreter",
    "image_generation": "image_generation",
    "mcp": "mcp",
}
# What `include` asks for so that a server tool's results come back with its item.
TOOL_INCLUDES: dict[str, str] = {
    "web_search": "web_search_call.action.sources",
    "file_search": "file_search_call.results",
    "code_interpreter": "code_interpreter_call.outputs",
}
# Config each server tool cannot go without (the API would refuse the request).
REQUIRED_CONFIG: dict[str, tuple[str, ...]] = {
    "file_search": ("vector_store_ids",),
    "mcp": ("server_label",),
}
ENCRYPTED_REASONING = "reasoning.encrypted_content"
OUTPUT_LOGPROBS = "message.output_text.logprobs"
SAFETY_IDENTIFIER_MAX = 64


def refused(message: str, request: ProviderRequest, provider: str) -> DspexError:
    return DspexError(ErrorKind.INVALID_MESSAGES, message, provider=provider, model=request.model)


def build_body(
    request: ProviderRequest, *, provider: str, store: bool, reasons: bool
) -> dict[str, Any]:
    """The request body. `store`: whether the response is stored (previousResponseId
    stores its continuation too); `reasons`: whether the model reasons (the catalog says
    so, or the request asks for reasoning), so that its encrypted reasoning comes back."""
    if request.stop:
        raise refused("the Responses API has no stop sequences (`stop`)", request, provider)
    store = store or request.previous_response_id is not None
    instructions, input_items = _input(request, provider, store)
    body: dict[str, Any] = {"model": request.model, "input": input_items, "store": store}
    if instructions is not None:
        body["instructions"] = instructions
    include: list[str] = []
    if reasons:
        include.append(ENCRYPTED_REASONING)
    tools = [
        _function_tool(t.name, t.description, t.parameters, t.strict) for t in request.tools or ()
    ]
    for spec in request.server_tools or ():
        tool = _server_tool(spec.name, dict(spec.config), request, provider)
        tools.append(tool)
        extra = TOOL_INCLUDES.get(tool["type"])
        if extra is not None and extra not in include:
            include.append(extra)
    if tools:
        body["tools"] = tools
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "name": choice.name}
    elif choice is not None:
        body["tool_choice"] = choice
    if request.logprobs:
        include.append(OUTPUT_LOGPROBS)
        body["top_logprobs"] = request.top_logprobs or 0
    elif request.top_logprobs is not None:
        body["top_logprobs"] = request.top_logprobs
    if include:
        body["include"] = include
    if request.reasoning is not None:
        if request.reasoning.budget_tokens is not None:
            raise refused(
                "the Responses API takes reasoning.effort (low, medium, high), not budgetTokens",
                request,
                provider,
            )
        body["reasoning"] = without_none(
            {"effort": request.reasoning.effort, "summary": request.reasoning.summary}
        )
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["text"] = {"format": {"type": "json_object"}}
    elif fmt is not None and fmt.type == "json_schema":
        schema_format: dict[str, Any] = {
            "type": "json_schema",
            "name": fmt.name or "response",
            "schema": fmt.json_schema or {},
        }
        if fmt.strict is not None:
            schema_format["strict"] = fmt.strict
        body["text"] = {"format": schema_format}
    if request.user is not None and len(request.user) > SAFETY_IDENTIFIER_MAX:
        raise refused(
            f"`user` is sent as the Responses API's safety_identifier, which takes at most "
            f"{SAFETY_IDENTIFIER_MAX} characters (hash longer ids)",
            request,
            provider,
        )
    body.update(
        without_none(
            {
                "max_output_tokens": request.max_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
                "parallel_tool_calls": request.parallel_tool_calls,
                "safety_identifier": request.user,
                "metadata": request.metadata,
                "previous_response_id": request.previous_response_id,
            }
        )
    )
    return body


def _function_tool(
    name: str, description: str | None, parameters: Any, strict: bool | None
) -> dict[str, Any]:
    # `strict` is sent always: left out, the Responses API applies strict mode, which
    # refuses schemas that Chat Completions accepts.
    tool: dict[str, Any] = {"type": "function", "name": name}
    if description:
        tool["description"] = description
    tool["parameters"] = parameters
    tool["strict"] = bool(strict)
    return tool


def _server_tool(
    name: str, config: dict[str, Any], request: ProviderRequest, provider: str
) -> dict[str, Any]:
    kind = SERVER_TOOLS.get(name)
    if kind is None:
        raise refused(
            f"the Responses API has no server tool {name!r} (it has: {', '.join(SERVER_TOOLS)})",
            request,
            provider,
        )
    missing = [key for key in REQUIRED_CONFIG.get(kind, ()) if key not in config]
    if kind == "mcp" and not ({"server_url", "connector_id"} & config.keys()):
        missing.append("server_url or connector_id")
    if missing:
        raise refused(
            f"server tool {name!r} needs {', '.join(missing)} in its config", request, provider
        )
    if kind == "code_interpreter":
        config.setdefault("container", {"type": "auto"})
    return {"type": kind, **config}


def _input(
    request: ProviderRequest, provider: str, store: bool
) -> tuple[str | None, list[dict[str, Any]]]:
    messages = request.messages
    leading = 0
    while leading < len(messages) and messages[leading].role == "system":
        leading += 1
    instructions = "\n\n".join(m.text() for m in messages[:leading]) if leading else None
    items: list[dict[str, Any]] = []
    for message in messages[leading:]:
        if message.role == "assistant":
            items += _assistant_items(message, store)
        elif message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": _tool_output(message, request, provider),
                }
            )
        else:  # user, and system messages after the conversation began
            items.append(
                {"role": message.role, "content": _user_content(message, request, provider)}
            )
    return instructions, items


def _user_content(
    message: Message, request: ProviderRequest, provider: str
) -> str | list[dict[str, Any]]:
    parts = message.content_parts()
    if all(isinstance(p, TextPart) for p in parts):
        return message.text()
    return [_input_part(p, request, provider) for p in parts]


def _tool_output(
    message: Message, request: ProviderRequest, provider: str
) -> str | list[dict[str, Any]]:
    """A tool result: its text, or (with images or files) a list of input parts."""
    return _user_content(message, request, provider)


def _input_part(part: Any, request: ProviderRequest, provider: str) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        url = part.url or f"data:{part.mime_type};base64,{part.data}"
        return {"type": "input_image", "image_url": url, "detail": "auto"}
    if isinstance(part, DocumentPart):
        return _input_file(part)
    raise refused(f"the Responses API does not take {part.type} parts here", request, provider)


def _input_file(part: DocumentPart) -> dict[str, Any]:
    """A document as `input_file`: inline as `file_data` (a data URL with a file name, as
    the API requires one), or by `file_url`."""
    mime = part.mime_type or "application/pdf"
    filename = part.name or "document" + (mimetypes.guess_extension(mime) or ".pdf")
    if part.data is not None:
        return {
            "type": "input_file",
            "filename": filename,
            "file_data": f"data:{mime};base64,{part.data}",
        }
    assert part.url is not None
    if part.url.startswith("data:"):
        return {"type": "input_file", "filename": filename, "file_data": part.url}
    return {"type": "input_file", "file_url": part.url}


# -- an earlier answer as output items -------------------------------------------------


def _assistant_items(message: Message, store: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[TextPart | RefusalPart] = []
    text_id: str | None = None
    reasoning: list[ReasoningPart] = []

    def flush() -> None:
        nonlocal texts, text_id, reasoning
        if reasoning:
            items.append(_reasoning_item(reasoning))
            reasoning = []
        if texts:
            items.append(_message_item(texts, text_id))
            texts, text_id = [], None

    for part in message.content_parts():
        if isinstance(part, ReasoningPart):
            if texts or (reasoning and reasoning[-1].id != part.id):
                flush()
            reasoning.append(part)
        elif isinstance(part, TextPart | RefusalPart):
            new_id = part.id if isinstance(part, TextPart) else None
            if reasoning or (new_id is not None and text_id is not None and new_id != text_id):
                flush()
            texts.append(part)
            text_id = text_id or new_id
        elif isinstance(part, ServerToolPart):
            flush()
            item = _server_tool_item(part)
            if item is not None:
                items.append(item)
    flush()
    items += [_call_item(call) for call in message.tool_calls or ()]
    if _linked(items, store):
        return [_strip_marks(i) for i in items]
    return [_unlinked(i) for i in items if i["type"] != "reasoning"]


def _linked(items: list[dict[str, Any]], store: bool) -> bool:
    """Whether the answer can go with its reasoning: it has some, each can be sent, and
    each is followed by an item with its id."""
    found = False
    for i, item in enumerate(items):
        if item["type"] != "reasoning":
            continue
        found = True
        if not item.get("id") or not (store or item.get("encrypted_content")):
            return False
        following = items[i + 1] if i + 1 < len(items) else None
        if following is None or not following.get("id"):
            return False
    return found


def _reasoning_item(parts: list[ReasoningPart]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": parts[0].id,
        "summary": [
            {"type": "summary_text", "text": p.text} for p in parts if p.summary and p.text
        ],
    }
    content = [
        {"type": "reasoning_text", "text": p.text} for p in parts if not p.summary and p.text
    ]
    if content:
        item["content"] = content
    data = next((p.data for p in parts if p.data), None)
    if data is not None:
        item["encrypted_content"] = data
    return item


def _message_item(texts: list[TextPart | RefusalPart], item_id: str | None) -> dict[str, Any]:
    content = [
        {"type": "output_text", "text": p.text, "annotations": []}
        if isinstance(p, TextPart)
        else {"type": "refusal", "refusal": p.text}
        for p in texts
    ]
    return {
        "type": "message",
        "role": "assistant",
        "id": item_id,
        "status": "completed",
        "content": content,
    }


def _server_tool_item(part: ServerToolPart) -> dict[str, Any] | None:
    """The output item a server-tool part came from: its type, id, call and result fields.
    A part that was not made from such an item (no result type) cannot be sent."""
    if not part.result_type or not isinstance(part.input, dict):
        return None
    if part.output is not None and not isinstance(part.output, dict):
        return None
    return {"type": part.result_type, "id": part.id, **part.input, **(part.output or {})}


def _call_item(call: ToolCall) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": call.item_id,
        "call_id": call.id,
        "name": call.name,
        "arguments": json.dumps(call.arguments),
    }


def _strip_marks(item: dict[str, Any]) -> dict[str, Any]:
    """An item as sent when the answer is linked (only the ids it lacks left out)."""
    if item["type"] in ("message", "function_call") and item.get("id") is None:
        return _unlinked(item)
    return item


def _unlinked(item: dict[str, Any]) -> dict[str, Any]:
    """A message or call without its item id: an assistant message in the short form."""
    if item["type"] == "message":
        text = "".join(c.get("text") or c.get("refusal") or "" for c in item["content"])
        return {"role": "assistant", "content": text}
    if item["type"] == "function_call":
        return {k: v for k, v in item.items() if k != "id"}
    return item
