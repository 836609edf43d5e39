"""Gemini API: a ProviderRequest as the body of :generateContent / :streamGenerateContent.

An earlier answer goes back as Gemini sent it: each thought signature on the part it came
on (a signature-only reasoning part puts its signature on the wire part that follows it,
see gemini_response), code execution and server-side tool parts as their wire parts.
Thought summaries are not sent back: the model reads its earlier thinking only through
the signatures, and summaries would cost input tokens for nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from dspex_protocol import (
    AudioPart,
    DocumentPart,
    ErrorKind,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ServerToolPart,
    TextPart,
    ToolCall,
)

from ..errors import DspexError
from .base import ProviderRequest
from .gemini_response import (
    CODE_EXECUTION,
    CODE_RESULT,
    GENERATED_ID_PREFIX,
    GENERATED_SERVER_ID_PREFIX,
    METADATA_RESULTS,
    TOOL_RESPONSE,
    tool_type_of,
)
from .messages import (
    merge_turns,
    system_text,
    tool_call_names,
    tool_result_object,
    unknown_tool_call,
)

# Gemini 3 models refuse function-call history without the thought signature they sent.
# For calls whose signature dspex does not have (another provider's history, a client
# that dropped it), the Gemini docs give this value to skip the check.
SKIP_SIGNATURE = "skip_thought_signature_validator"
# Thinking budgets for `effort` on budget-based models (Gemini 2.5): the budgets Google's
# OpenAI-compatible endpoint uses for reasoning_effort low / medium / high.
EFFORT_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
DYNAMIC_BUDGET = -1
# serverTools by common name → the Gemini API's tool declaration.
SERVER_TOOLS = {
    "web_search": "googleSearch",
    "code_execution": "codeExecution",
    "url_context": "urlContext",
    "web_fetch": "urlContext",  # Gemini's URL context is its page fetcher
    "file_search": "fileSearch",
    "google_maps": "googleMaps",
}
_FAMILY = re.compile(r"(?:^|/)gemini-(\d+)")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)

SignatureLookup = Callable[[str], str | None]
Wire = dict[str, Any]


def generation(model: str) -> int | None:
    """The Gemini generation of a model name (2 for gemini-2.5-flash); None if unknown."""
    match = _FAMILY.search(model)
    return int(match[1]) if match else None


def is_gemini_3_or_later(model: str, *, unknown: bool = False) -> bool:
    """Thinking levels, required call signatures and server-side tool invocations arrived
    with Gemini 3. For a model of unknown family (an alias like gemini-flash-latest, a
    tuned model) the caller says which answer is safe on every generation."""
    major = generation(model)
    return unknown if major is None else major >= 3


def _refuse(message: str, provider: str, model: str) -> DspexError:
    return DspexError(ErrorKind.INVALID_MESSAGES, message, provider=provider, model=model)


def _media(part: ImagePart | DocumentPart | AudioPart) -> Wire:
    """Inline bytes (base64 data or a data: URL) as inlineData, a URL (File API uri,
    YouTube, ...) as fileData."""
    if part.data is not None:
        return {"inlineData": {"mimeType": part.mime_type, "data": part.data}}
    match = _DATA_URL.match(part.url or "")
    if match:
        return {"inlineData": {"mimeType": match["mime"], "data": match["data"]}}
    data: Wire = {"fileUri": part.url}
    if part.mime_type:
        data["mimeType"] = part.mime_type
    return {"fileData": data}


class _ModelTurn:
    """An assistant message as a model turn's parts, thought signatures placed."""

    def __init__(self, model: str, signature_of: SignatureLookup) -> None:
        self.model = model
        self.signature_of = signature_of
        self.parts: list[Wire] = []
        self.queued: list[str] = []  # signatures for the wire parts that follow

    def add(self, part: Wire) -> None:
        if self.queued:
            part["thoughtSignature"] = self.queued.pop(0)
        self.parts.append(part)

    def reasoning(self, part: ReasoningPart) -> None:
        if part.text and self.queued:
            # The signature came on this thought part itself: it goes back on it.
            self.add({"text": part.text, "thought": True})
        if part.signature:
            self.queued.append(part.signature)

    def server_tool(self, part: ServerToolPart) -> None:
        if part.result_type in METADATA_RESULTS:
            return  # grounding and URL-context metadata are not content
        wire_id = {} if part.id.startswith(GENERATED_SERVER_ID_PREFIX) else {"id": part.id}
        data = part.input if isinstance(part.input, dict) else {}
        output = part.output if isinstance(part.output, dict) else {}
        if part.name == CODE_EXECUTION and part.result_type in (CODE_RESULT, None):
            if data:  # empty: a result whose code never came
                self.add({"executableCode": {**data, **wire_id}})
            if part.result_type is not None:
                self.add({"codeExecutionResult": {**output, **wire_id}})
        elif part.result_type in (TOOL_RESPONSE, None) and is_gemini_3_or_later(self.model):
            tool_type = tool_type_of(part.name)
            args = {"args": data} if data else {}
            self.add({"toolCall": {**wire_id, "toolType": tool_type, **args}})
            if part.result_type is not None:
                response: Wire = {**wire_id, "toolType": tool_type}
                if part.output is not None:
                    response["response"] = output if output else {"result": part.output}
                self.add({"toolResponse": response})
        else:
            # Earlier models neither send nor take server-side tool invocations.
            self.queued.clear()

    def calls(self, calls: list[ToolCall]) -> None:
        for position, call in enumerate(calls):
            payload: Wire = {"name": call.name, "args": call.arguments}
            if not call.id.startswith(GENERATED_ID_PREFIX):
                payload["id"] = call.id
            part: Wire = {"functionCall": payload}
            signature = call.signature or self.signature_of(call.id)
            # The skip value is accepted by every generation: sent when in doubt.
            gemini_3 = is_gemini_3_or_later(self.model, unknown=True)
            if signature is None and position == 0 and gemini_3:
                # Only the first call of a step carries a signature (parallel calls).
                signature = SKIP_SIGNATURE
            if signature is not None:
                part["thoughtSignature"] = signature
            self.parts.append(part)

    def build(self, message: Message) -> list[Wire]:
        for part in message.content_parts():
            if isinstance(part, TextPart):
                if part.text or self.queued:
                    self.add({"text": part.text})
            elif isinstance(part, ReasoningPart):
                self.reasoning(part)
            elif isinstance(part, ServerToolPart):
                self.server_tool(part)
        while self.queued:  # a signature that came on an empty text part at the end
            self.add({"text": ""})
        self.calls(message.tool_calls or [])
        return self.parts


def _user_parts(message: Message) -> list[Wire]:
    parts: list[Wire] = []
    for part in message.content_parts():
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart | DocumentPart | AudioPart):
            parts.append(_media(part))
    return parts


def build_contents(
    request: ProviderRequest, provider: str, signature_of: SignatureLookup
) -> list[Wire]:
    names = tool_call_names(request.messages)
    turns: list[tuple[str, list[Wire]]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            name = names.get(call_id) or message.name
            if not name:
                raise unknown_tool_call(call_id, provider, request.model)
            response: Wire = {"name": name, "response": tool_result_object(message.text())}
            if call_id and not call_id.startswith(GENERATED_ID_PREFIX):
                response["id"] = call_id
            turns.append(("user", [{"functionResponse": response}]))
        elif message.role == "assistant":
            turns.append(("model", _ModelTurn(request.model, signature_of).build(message)))
        else:
            turns.append(("user", _user_parts(message)))
    return [{"role": role, "parts": parts} for role, parts in merge_turns(turns)]


def _function_calling(request: ProviderRequest) -> Wire | None:
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}.get(str(choice))
    if any(t.strict for t in request.tools or ()) and mode in (None, "AUTO"):
        # VALIDATED: calls or text as in AUTO, calls held to their schema (ANY already is).
        mode = "VALIDATED"
    return {"mode": mode} if mode else None


def _server_tools(request: ProviderRequest, provider: str) -> list[Wire]:
    tools: list[Wire] = []
    for spec in request.server_tools or ():
        declaration = SERVER_TOOLS.get(spec.name)
        if declaration is None:
            raise _refuse(
                f"provider {provider!r} has no server tool {spec.name!r} "
                f"(it has: {', '.join(sorted(SERVER_TOOLS))})",
                provider,
                request.model,
            )
        tools.append({declaration: dict(spec.config)})
    return tools


def _thinking(request: ProviderRequest) -> Wire | None:
    """`reasoning` as thinkingConfig: a thinking level (Gemini 3) or a token budget
    (Gemini 2.5; 0 turns thinking off where the model allows it, -1 is dynamic), with the
    thought summaries asked for."""
    reasoning = request.reasoning
    if reasoning is None:
        return None
    config: Wire = {}
    if reasoning.effort is not None and is_gemini_3_or_later(request.model):
        config["thinkingLevel"] = reasoning.effort
    elif reasoning.budget_tokens is not None:
        config["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort is not None:
        config["thinkingBudget"] = EFFORT_BUDGETS[reasoning.effort]
    elif not is_gemini_3_or_later(request.model):  # Gemini 3 thinks dynamically by default
        config["thinkingBudget"] = DYNAMIC_BUDGET
    if config.get("thinkingBudget") != 0:
        config["includeThoughts"] = True
    return config


def _generation_config(request: ProviderRequest) -> Wire:
    logprobs = bool(request.logprobs) or request.top_logprobs is not None
    config: Wire = {
        key: value
        for key, value in {
            "temperature": request.temperature,
            "maxOutputTokens": request.max_tokens,
            "topP": request.top_p,
            "stopSequences": request.stop,
            "seed": request.seed,
            "candidateCount": request.n if request.n and request.n > 1 else None,
            "presencePenalty": request.presence_penalty,
            "frequencyPenalty": request.frequency_penalty,
            "responseLogprobs": True if logprobs else None,
            "logprobs": request.top_logprobs,
            "thinkingConfig": _thinking(request),
        }.items()
        if value is not None
    }
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.json_schema:
            # responseJsonSchema takes JSON Schema as dspex gets it; the older
            # responseSchema takes only an OpenAPI subset.
            config["responseJsonSchema"] = fmt.json_schema
    return config


def _refuse_cache_control(request: ProviderRequest, provider: str) -> None:
    marked = any(t.cache_control for t in request.tools or ()) or any(
        m.cache_control is not None
        or any(getattr(p, "cache_control", None) is not None for p in m.content_parts())
        for m in request.messages
    )
    if marked:
        raise _refuse(
            "Gemini has no inline cache breakpoints (cacheControl): create a cached content "
            "(POST /v1beta/cachedContents) holding the prompt's prefix and pass its name as "
            "`cachedContent`; Gemini 2.5+ also caches repeated prefixes implicitly",
            provider,
            request.model,
        )


def build_body(request: ProviderRequest, provider: str, signature_of: SignatureLookup) -> Wire:
    _refuse_cache_control(request, provider)
    body: Wire = {"contents": build_contents(request, provider, signature_of)}
    system = system_text(request.messages)
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    tools: list[Wire] = []
    if request.tools:
        declarations = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                # Full JSON Schema; `parameters` accepts only an OpenAPI subset.
                "parametersJsonSchema": t.parameters,
            }
            for t in request.tools
        ]
        tools.append({"functionDeclarations": declarations})
    server_tools = _server_tools(request, provider)
    tools += server_tools
    if tools:
        body["tools"] = tools
    tool_config: Wire = {}
    calling = _function_calling(request) if request.tools else None
    if calling is not None:
        tool_config["functionCallingConfig"] = calling
    if server_tools and is_gemini_3_or_later(request.model):
        # The server's tool calls and results come back as toolCall / toolResponse parts
        # (earlier models refuse the field).
        tool_config["includeServerSideToolInvocations"] = True
    if tool_config:
        body["toolConfig"] = tool_config
    generation_config = _generation_config(request)
    if generation_config:
        body["generationConfig"] = generation_config
    if request.cached_content:
        body["cachedContent"] = request.cached_content
    return body
