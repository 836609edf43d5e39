"""The mock provider: deterministic, scriptable answers, latency and error injection."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import re
from collections.abc import AsyncIterator

from dspex_protocol import (
    AssistantPart,
    NamedToolChoice,
    ReasoningPart,
    TextPart,
    ToolCall,
    Usage,
)

from ..errors import DspexError
from .base import (
    Adapter,
    EmbedRequest,
    EmbedResponse,
    ProviderRequest,
    ProviderResponse,
    StreamPart,
    assistant_message,
)
from .delta import CallFragment, Delta
from .mock_capture import MockCapture
from .mock_predict import text_mode_reply
from .mock_schema import instance
from .settings import MockError, MockSettings
from .table import ProviderSpec

MOCK_EMBED_DIMENSIONS = 64
_WORD = re.compile(r"\w+")
# Field markers of dspex/predict prompts (`[[ ## text ## ]]`): not part of the input's words.
_MARKER = re.compile(r"\[\[ ## \w+ ## \]\]")
# How dspex/predict shows the output schema in a JSON-mode system prompt (predict/prompt.py).
_SCHEMA_INTRO = "JSON Schema:"


def hashed_embedding(text: str, dimensions: int = MOCK_EMBED_DIMENSIONS) -> list[float]:
    """A deterministic bag-of-words vector (feature hashing), L2-normalised: texts that
    share words are close, so similarity tests mean something without a model."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dimensions
        vector[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


def estimate_tokens(text: str) -> int:
    """About four characters a token, the usual rule of thumb for English text."""
    return max(1, (len(text) + 3) // 4) if text else 0


class MockAdapter(Adapter):
    # A deterministic echo: sampling knobs change nothing (as temperature does not);
    # what it cannot do (several choices, logprobs, stored responses, a provider's cached
    # content) is refused like on any provider that lacks it.
    options = frozenset(
        {
            "seed",
            "response_format",
            "reasoning",
            "frequency_penalty",
            "presence_penalty",
            "parallel_tool_calls",
            "user",
            "metadata",
            "strict",
            "cache_control",
        }
    )
    input_parts = frozenset(
        {"text", "image", "document", "audio", "reasoning", "server_tool", "refusal"}
    )

    def __init__(
        self, spec: ProviderSpec, settings: MockSettings, capture: MockCapture | None = None
    ) -> None:
        super().__init__(spec)
        self.settings = settings
        self.capture = capture or MockCapture()
        self._count = 0
        self._cycle = itertools.cycle(settings.replies) if settings.replies else None
        self._times_left = {i: e.times for i, e in enumerate(settings.errors) if e.times}

    def _injected_error(
        self, request: ProviderRequest, *, mid_stream: bool = False
    ) -> DspexError | None:
        for i, err in enumerate(self.settings.errors):
            if (err.after_chunks is not None) != mid_stream or not self._fires(i, err):
                continue
            retryable = err.retryable
            if retryable is None and err.status is not None:
                retryable = err.status == 429 or err.status >= 500
            return DspexError(
                err.kind,
                err.message,
                provider=self.name,
                model=request.model,
                status=err.status,
                retry_after_ms=err.retry_after_ms,
                retryable=retryable,
                details={"afterChunks": err.after_chunks} if mid_stream else None,
            )
        return None

    def _fires(self, index: int, err: MockError) -> bool:
        if err.times is not None:
            left = self._times_left.get(index, 0)
            if left <= 0:
                return False
            self._times_left[index] = left - 1
            return err.every is None or self._count % err.every == 0
        if err.every is not None:
            return self._count % err.every == 0
        return True

    def _reply(self, request: ProviderRequest) -> str:
        mode = self.settings.mode
        if mode == "fixed":
            return self.settings.reply
        if mode == "cycle" and self._cycle is not None:
            return next(self._cycle)
        structured = _structured_reply(request)
        if structured is not None:
            return structured
        return _last_user_text(request)

    def _answer(self, request: ProviderRequest) -> str:
        """The reply; after an assistant prefill (a resumed stream), only what follows it,
        the way providers that support prefill continue a partial answer."""
        answer = self._reply(request)
        last = request.messages[-1]
        if last.role == "assistant" and not last.tool_calls:
            prefix = last.text()
            if answer.startswith(prefix):
                return answer[len(prefix) :]
        return answer

    def _tool_call(self, request: ProviderRequest) -> ToolCall | None:
        """A deterministic call when the request forces one (`required` or a named tool)."""
        if not request.tools or request.tool_choice in (None, "auto", "none"):
            return None
        choice = request.tool_choice
        name = choice.name if isinstance(choice, NamedToolChoice) else request.tools[0].name
        tool = next((t for t in request.tools if t.name == name), None)
        schema = tool.parameters if tool is not None else {}
        arguments = instance(schema, f"{name}|{_seed(request)}") if schema else {}
        return ToolCall(
            id=f"call_mock_{self._count}",
            name=name,
            arguments=arguments if isinstance(arguments, dict) else {},
        )

    def _usage(self, request: ProviderRequest, answer: str) -> Usage:
        prompt = sum(estimate_tokens(m.text()) for m in request.messages)
        reasoning = estimate_tokens(_reasoning(request) or "")
        completion = estimate_tokens(answer) + reasoning
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            reasoning_tokens=reasoning if request.reasoning is not None else None,
        )

    async def _begin(self, request: ProviderRequest) -> tuple[str, ToolCall | None]:
        self._count += 1
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        error = self._injected_error(request)
        if error is not None:
            raise error
        call = self._tool_call(request)
        return ("" if call else self._answer(request)), call

    async def chat(self, request: ProviderRequest) -> ProviderResponse:
        self.capture.chat(request, streamed=False)
        answer, call = await self._begin(request)
        parts: list[AssistantPart] = []
        reasoning = _reasoning(request)
        if reasoning is not None:
            parts.append(ReasoningPart(text=reasoning))
        if call is None:
            parts.append(TextPart(text=answer))
        return ProviderResponse(
            message=assistant_message(parts, [call] if call else None),
            finish_reason="tool_calls" if call else "stop",
            usage=self._usage(request, answer),
            model=request.model,
            request_id=f"mock-{self._count}",
        )

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        self.capture.embed(request)
        self._count += 1
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        dims = request.dimensions or MOCK_EMBED_DIMENSIONS
        return EmbedResponse(
            embeddings=[hashed_embedding(text, dims) for text in request.inputs],
            model=request.model,
            prompt_tokens=sum(estimate_tokens(t) for t in request.inputs),
        )

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamPart]:
        self.capture.chat(request, streamed=True)
        answer, call = await self._begin(request)
        size = self.settings.chunk_size
        broken = self._injected_error(request, mid_stream=True)
        after = (broken.details or {}).get("afterChunks", 0) if broken is not None else 0
        reasoning = _reasoning(request)
        if reasoning is not None:
            yield StreamPart(delta=Delta(reasoning=reasoning))
        for n, start in enumerate(range(0, len(answer), size)):
            if broken is not None and n >= int(after or 0):
                raise broken
            yield StreamPart(delta=Delta(content=answer[start : start + size]))
            await asyncio.sleep(self.settings.chunk_delay_ms / 1000)
        if broken is not None:
            raise broken
        if call is not None:
            yield StreamPart(
                delta=Delta(
                    tool_calls=[
                        CallFragment(
                            index=0,
                            id=call.id,
                            name=call.name,
                            arguments=json.dumps(call.arguments, ensure_ascii=False),
                        )
                    ]
                )
            )
        yield StreamPart(
            finish_reason="tool_calls" if call else "stop",
            usage=self._usage(request, answer),
            model=request.model,
        )


def _reasoning(request: ProviderRequest) -> str | None:
    """What the mock shows as its reasoning when asked to reason: what it was asked."""
    config = request.reasoning
    if config is None:
        return None
    asked = ", ".join(f"{k}={v}" for k, v in config.to_wire().items()) or "provider default"
    return f"(mock) reasoning requested ({asked}); the mock echoes without reasoning."


def _last_user_text(request: ProviderRequest) -> str:
    last_user = next((m for m in reversed(request.messages) if m.role == "user"), None)
    return last_user.text() if last_user is not None else ""


def _seed(request: ProviderRequest) -> str:
    """The input the structured answers' strings are derived from: the last user message,
    without dspex/predict's field markers."""
    return _MARKER.sub(" ", _last_user_text(request)).strip()


def _prompt_schema(request: ProviderRequest) -> dict[str, object] | None:
    """The JSON Schema a system prompt shows after `JSON Schema:` (how dspex/predict asks
    for JSON on a provider with `json_object` mode only), when there is one."""
    for message in request.messages:
        if message.role != "system":
            continue
        text = message.text()
        at = text.find(_SCHEMA_INTRO)
        start = text.find("{", at) if at >= 0 else -1
        if start < 0:
            continue
        try:
            schema, _ = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(schema, dict):
            return schema
    return None


def _structured_reply(request: ProviderRequest) -> str | None:
    """In echo mode, a request for JSON gets a JSON object valid against the schema it
    names (`responseFormat` json_schema, or the schema in the system prompt for
    json_object), a dspex/predict text-mode prompt its marker-framed fields; None when
    nothing structured is asked for."""
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        system = "\n\n".join(m.text() for m in request.messages if m.role == "system")
        return text_mode_reply(system, _last_user_text(request), _seed(request))
    schema: object = fmt.json_schema if fmt.type == "json_schema" else _prompt_schema(request)
    seed = _seed(request)
    if not schema:
        return json.dumps({"message": seed}, ensure_ascii=False)
    return json.dumps(instance(schema, seed), ensure_ascii=False)
