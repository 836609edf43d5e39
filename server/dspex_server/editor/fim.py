"""Fill-in-the-middle: the text around the cursor, within a budget, completed by a
provider's own FIM endpoint where it has one, else by a chat prompt on any provider."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dspex_protocol import ChatParams, ErrorKind, Message

from ..errors import DspexError
from ..providers.http import HttpAdapter
from .settings import InlineCompletionSettings

CURSOR = "<CURSOR>"
SYSTEM_PROMPT = (
    "You are a code completion engine. The user sends a file with the marker <CURSOR> where "
    "the cursor is. Reply with only the text to insert at <CURSOR>: no explanation, no "
    "repetition of the text around it, no code fences."
)
# FIM models per provider where the chat default cannot fill in the middle.
FIM_MODELS = {"mistral": "codestral-latest"}
_FENCE = re.compile(r"^```[\w+-]*\n(.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class FimContext:
    prefix: str
    suffix: str
    language: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Fill:
    text: str
    provider: str
    model: str
    native: bool


def context_at(
    text: str, offset: int, prefix_chars: int, suffix_chars: int, **where: str | None
) -> FimContext:
    """The prefix and suffix around `offset`, each cut to its budget at a line boundary
    (a half line of context misleads a model more than a missing one)."""
    prefix, suffix = text[:offset], text[offset:]
    if len(prefix) > prefix_chars:
        cut = prefix[len(prefix) - prefix_chars :]
        newline = cut.find("\n")
        prefix = cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut
    if len(suffix) > suffix_chars:
        cut = suffix[:suffix_chars]
        newline = cut.rfind("\n")
        suffix = cut[:newline] if newline > 0 else cut
    return FimContext(prefix, suffix, where.get("language"), where.get("path"))


def chat_prompt(ctx: FimContext) -> list[Message]:
    about = f"File: {ctx.path or 'untitled'}" + (f" ({ctx.language})" if ctx.language else "")
    return [
        Message(role="system", content=SYSTEM_PROMPT),
        Message(role="user", content=f"{about}\n{ctx.prefix}{CURSOR}{ctx.suffix}"),
    ]


def clean_completion(raw: str, ctx: FimContext) -> str:
    """What a chat model adds around the insertion: a code fence, the current line
    repeated, the text after the cursor repeated."""
    text = raw
    fenced = _FENCE.match(text.strip())
    if fenced:
        text = fenced.group(1)
    text = text.replace(CURSOR, "")
    line_before = ctx.prefix.rsplit("\n", 1)[-1]
    if line_before.strip() and text.startswith(line_before):
        text = text[len(line_before) :]
    line_after = ctx.suffix.split("\n", 1)[0]
    if line_after.strip() and text.endswith(line_after):
        text = text[: len(text) - len(line_after)]
    return text


NativeFim = Callable[[HttpAdapter, FimContext, str, InlineCompletionSettings], Awaitable[str]]


async def mistral_fim(
    adapter: HttpAdapter, ctx: FimContext, model: str, settings: InlineCompletionSettings
) -> str:
    """Codestral's `POST /v1/fim/completions`: prompt + suffix, a chat-shaped answer."""
    payload = {
        "model": model,
        "prompt": ctx.prefix,
        "suffix": ctx.suffix,
        "max_tokens": settings.max_tokens,
        "temperature": 0.0,
        "stream": False,
    }
    body, _ = await adapter.post_json(
        "/fim/completions", payload, model, _headers(adapter), settings.timeout_ms / 1000
    )
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise adapter.invalid("FIM response", model) from None
    return content if isinstance(content, str) else ""


async def ollama_fim(
    adapter: HttpAdapter, ctx: FimContext, model: str, settings: InlineCompletionSettings
) -> str:
    """Ollama's `POST /api/generate` with `suffix` (models whose template supports it)."""
    payload = {
        "model": model,
        "prompt": ctx.prefix,
        "suffix": ctx.suffix,
        "stream": False,
        "options": {"num_predict": settings.max_tokens, "temperature": 0.0},
    }
    body, _ = await adapter.post_json(
        "/api/generate", payload, model, _headers(adapter), settings.timeout_ms / 1000
    )
    response = body.get("response") if isinstance(body, dict) else None
    if not isinstance(response, str):
        raise adapter.invalid("generate response", model)
    return response


NATIVE_FIM: dict[str, NativeFim] = {"mistral": mistral_fim, "ollama": ollama_fim}


def _headers(adapter: HttpAdapter) -> dict[str, str]:
    own: Any = getattr(adapter, "headers", None)
    return dict(own()) if callable(own) else adapter.base_headers()


class FimEngine:
    """Resolves the provider as a chat would, then fills natively or through chat."""

    def __init__(self, pipeline: Any, registry: Any) -> None:
        self.pipeline = pipeline
        self.registry = registry

    async def fill(self, ctx: FimContext, settings: InlineCompletionSettings) -> Fill:
        messages = chat_prompt(ctx)
        params = ChatParams(
            messages=messages,
            provider=settings.provider,
            model=settings.model,
            max_tokens=settings.max_tokens,
            temperature=0.0,
            timeout_ms=settings.timeout_ms,
        )
        provider, model, _ = self.pipeline.resolve(params)
        native = NATIVE_FIM.get(provider) if settings.native_fim else None
        if native is not None:
            adapter = await self.registry.get(provider)
            if isinstance(adapter, HttpAdapter):
                fim_model = settings.model or FIM_MODELS.get(provider, model)
                text = await native(adapter, ctx, fim_model, settings)
                return Fill(text, provider, fim_model, native=True)
        result = await self.pipeline.chat(params.model_copy(update={"provider": provider}))
        choice = result.choices[0].message if result.choices else None
        content = choice.content if choice is not None else None
        if not isinstance(content, str):
            raise DspexError(
                ErrorKind.API_ERROR, "the provider answered no text", provider=provider
            )
        return Fill(clean_completion(content, ctx), result.provider, result.model, native=False)
