"""Ollama's native API: POST /api/chat (NDJSON streaming), POST /api/embed, GET /api/tags.

No key. Tool-call arguments arrive as JSON objects (not text) and without ids, so ids are
generated here; tool results go back as role `tool` with the `tool_name` they answer.
Thinking models answer their reasoning in `message.thinking` (asked for with `think`),
which goes back in the history the same way; `logprobs` (Ollama 0.12.11 and later) come
per token at the top level of each answer object.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from dspex_protocol import (
    ErrorKind,
    FinishReason,
    ImagePart,
    Message,
    ReasoningConfig,
    ReasoningPart,
    TextPart,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import (
    AnswerBuilder,
    EmbedRequest,
    EmbedResponse,
    ModelListing,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
    inline_image,
    new_tool_call_id,
    parse_tool_arguments,
    token_usage,
    tool_call_names,
    without_none,
)
from .compat_dialects import model_family
from .delta import CallFragment, Delta
from .http import HttpAdapter, request_id
from .openai_compat_parse import token_logprobs
from .settings import ProviderSettings
from .table import ProviderSpec

DEFAULT_PORT = 11434
DONE_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length"}
# Models whose `think` takes a level (low, medium, high) rather than true/false.
THINK_LEVELS = {"gpt-oss": "levels"}


def think_value(model: str, cfg: ReasoningConfig) -> bool | str:
    """`think` for a reasoning request: a level where the model takes levels (gpt-oss),
    else on/off; a token budget only as 0 (off)."""
    levels = model_family(model, THINK_LEVELS) == "levels"
    if cfg.summary is not None:
        raise ValueError("Ollama returns the thinking itself: reasoning.summary is not taken")
    if cfg.budget_tokens not in (None, 0):
        raise ValueError("Ollama takes no reasoning budget (budgetTokens 0 turns thinking off)")
    if cfg.budget_tokens == 0:
        if levels or cfg.effort is not None:
            raise ValueError("gpt-oss always thinks on Ollama: give an effort, not budgetTokens 0")
        return False
    if cfg.effort is not None:
        if not levels:
            raise ValueError(
                f"{model!r} thinks or not on Ollama (think true/false): no effort levels"
            )
        return cfg.effort
    return True


def normalise_host(url: str) -> str:
    """OLLAMA_HOST is often `host:port` or a bare host (the server's own convention):
    default the scheme to http and the port to 11434, as Ollama's clients do."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.port is None and parts.scheme == "http" and not parts.path:
        url = f"{url}:{DEFAULT_PORT}"
    return url


def _usage(payload: dict[str, Any]) -> Usage:
    return token_usage(payload.get("prompt_eval_count"), payload.get("eval_count"))


class OllamaAdapter(HttpAdapter):
    options = frozenset(
        {"seed", "response_format", "reasoning", "frequency_penalty", "presence_penalty"}
        | {"logprobs", "top_logprobs"}
    )
    input_parts = frozenset({"text", "image", "reasoning"})

    def __init__(
        self, spec: ProviderSpec, settings: ProviderSettings, api_key: str | None, transport: str
    ) -> None:
        super().__init__(spec, settings, api_key, transport)
        self.base_url = normalise_host(self.base_url)

    def headers(self) -> dict[str, str]:
        headers = {**self.spec.default_headers, **self.settings.headers}
        if self.api_key:  # a proxy in front of Ollama may want one
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    # -- request -------------------------------------------------------------------------

    def message_to_wire(
        self, message: Message, tool_names: dict[str, str], model: str
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"role": message.role, "content": message.text()}
        if isinstance(message.content, list):
            images = [
                inline_image(p, self.name, model)[1]
                for p in message.content
                if isinstance(p, ImagePart)
            ]
            if images:
                out["images"] = images
            out["content"] = "".join(p.text for p in message.content if isinstance(p, TextPart))
            thinking = "".join(
                p.text or "" for p in message.content if isinstance(p, ReasoningPart)
            )
            if thinking and message.role == "assistant":
                out["thinking"] = thinking
        if message.tool_calls:
            out["tool_calls"] = [
                {"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls
            ]
        if message.role == "tool":
            name = tool_names.get(message.tool_call_id or "") or message.name
            if name:
                out["tool_name"] = name
        return out

    def body(self, request: ProviderRequest, stream: bool) -> dict[str, Any]:
        names = tool_call_names(request.messages)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [self.message_to_wire(m, names, request.model) for m in request.messages],
            "stream": stream,
        }
        options = without_none(
            {
                "temperature": request.temperature,
                "num_predict": request.max_tokens,
                "top_p": request.top_p,
                "stop": request.stop,
                "seed": request.seed,
                "frequency_penalty": request.frequency_penalty,
                "presence_penalty": request.presence_penalty,
            }
        )
        if options:
            body["options"] = options
        if request.reasoning is not None:
            try:
                body["think"] = think_value(request.model, request.reasoning)
            except ValueError as exc:
                raise DspexError(
                    ErrorKind.INVALID_MESSAGES,
                    f"provider {self.name!r}: {exc} (model {request.model!r})",
                    provider=self.name,
                    model=request.model,
                ) from None
        if request.logprobs or request.top_logprobs is not None:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
        # Ollama has no tool_choice: "none" is honoured by not offering the tools.
        if request.tools and request.tool_choice != "none":
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description or "",
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_object":
            body["format"] = "json"
        elif fmt is not None and fmt.type == "json_schema":
            body["format"] = fmt.json_schema or {"type": "object"}
        return body

    # -- response ------------------------------------------------------------------------

    def _tool_calls(self, raw: Any, model: str) -> list[ToolCall]:
        calls = []
        for item in raw or []:
            function = item.get("function") if isinstance(item, dict) else None
            if not isinstance(function, dict) or not function.get("name"):
                raise self.invalid("a tool call has no function name", model)
            arguments = function.get("arguments") or {}
            if isinstance(arguments, str):  # some model templates emit JSON text
                arguments = parse_tool_arguments(arguments, self.name, model)
            if not isinstance(arguments, dict):
                raise self.invalid("tool call arguments are not a JSON object", model)
            call_id = item.get("id") or new_tool_call_id()
            calls.append(ToolCall(id=str(call_id), name=str(function["name"]), arguments=arguments))
        return calls

    def _finish(self, payload: dict[str, Any], has_calls: bool) -> FinishReason:
        if has_calls:
            return "tool_calls"
        return DONE_REASONS.get(str(payload.get("done_reason")), "stop")

    def _message(self, payload: Any, model: str) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise self.invalid("the response is not a JSON object", model)
        if "error" in payload:
            raise self._stream_error(payload, model)
        message = payload.get("message")
        if message is None and payload.get("done"):
            return {}  # the documented final stream object carries only statistics
        if not isinstance(message, dict):
            raise self.invalid("the response has no message", model)
        return message

    def _stream_error(self, payload: dict[str, Any], model: str) -> DspexError:
        message, code = self.error_detail(payload)
        return DspexError(
            ErrorKind.API_ERROR,
            self.scrub(message or "the model reported an error"),
            provider=self.name,
            model=model,
            details={"code": code} if code else None,
        )

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        payload, response = await self.post_json(
            "/api/chat",
            self.body(request, stream=False),
            request.model,
            self.headers(),
            request.timeout_s,
        )
        message = self._message(payload, request.model)
        calls = self._tool_calls(message.get("tool_calls"), request.model)
        answer = AnswerBuilder()
        thinking, content = message.get("thinking"), message.get("content")
        answer.reasoning(thinking if isinstance(thinking, str) else "")
        answer.text(content if isinstance(content, str) else "")
        return ProviderResponse(
            message=answer.message(calls),
            finish_reason=self._finish(payload, bool(calls)),
            usage=_usage(payload),
            model=str(payload.get("model") or request.model),
            request_id=request_id(response.headers),
            logprobs=token_logprobs(payload.get("logprobs")),
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        headers = {**self.headers(), "Accept": "application/x-ndjson"}
        async with self.open_stream(
            "POST",
            "/api/chat",
            self.body(request, stream=True),
            request.model,
            headers,
            request.timeout_s,
        ) as response:
            req_id = request_id(response.headers)
            calls_seen = 0
            idle_s = request.stream_idle_timeout_s
            lines = self.json_lines(
                response, request.model, idle_s, "application/x-ndjson", "application/json"
            )
            async for payload in lines:
                if not isinstance(payload, dict):  # Malformed, or JSON that is no object
                    yield StreamPart(malformed=1)  # skipped, counted: the rest still flows
                    continue
                message = self._message(payload, request.model)
                calls = self._tool_calls(message.get("tool_calls"), request.model)
                content = message.get("content")
                deltas = [
                    CallFragment(
                        index=calls_seen + i,
                        id=c.id,
                        name=c.name,
                        arguments=json.dumps(c.arguments),
                    )
                    for i, c in enumerate(calls)
                ]
                calls_seen += len(calls)
                thinking = message.get("thinking")
                logprobs = token_logprobs(payload.get("logprobs"))
                part = StreamPart(request_id=req_id, model=_opt_str(payload.get("model")))
                req_id = None
                delta = Delta(
                    reasoning=thinking if isinstance(thinking, str) and thinking else None,
                    content=content if isinstance(content, str) and content else None,
                    tool_calls=deltas or None,
                    logprobs=logprobs,
                )
                if delta.reasoning or delta.content or deltas or logprobs:
                    part.delta = delta
                if payload.get("done"):
                    part.finish_reason = self._finish(payload, calls_seen > 0)
                    part.usage = _usage(payload)
                    yield part
                    return
                yield part
            raise self.stream_cut(request.model, '"done": true')

    # -- embeddings and models -----------------------------------------------------------

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        body: dict[str, Any] = {"model": request.model, "input": request.inputs}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        payload, _ = await self.post_json(
            "/api/embed", body, request.model, self.headers(), request.timeout_s
        )
        vectors = payload.get("embeddings") if isinstance(payload, dict) else None
        if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
            raise self.invalid("the embed response has no embeddings list", request.model)
        return EmbedResponse(
            embeddings=[[float(x) for x in v] for v in vectors],
            model=str(payload.get("model") or request.model),
            prompt_tokens=int(payload.get("prompt_eval_count") or 0),
        )

    async def list_models(self) -> list[ModelListing]:
        payload = await self.get_json("/api/tags", self.headers())
        models = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(models, list):
            raise self.invalid("the tags response has no models list", "")
        return [
            ModelListing(id=str(item.get("name") or item["model"]))
            for item in models
            if isinstance(item, dict) and (item.get("name") or item.get("model"))
        ]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
