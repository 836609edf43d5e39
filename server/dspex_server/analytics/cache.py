"""The opt-in semantic cache: a chat whose prompt embedding is within the configured
cosine threshold of a cached prompt — same provider, model and options — is answered
with the cached answer, and the result says so in `notices`.

Only plain, non-streamed chats without tools are cached (a tool call or a stream cannot be
replayed faithfully). The cache holds at most `maxEntries` answers, each for `ttlS`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dspex_protocol import ChatParams, ChatResult, Choice, EmbedParams, Usage

from ..errors import DspexError
from .backend import AnalyticsInputError

if TYPE_CHECKING:
    from ..config import SemanticCacheSettings
    from ..pipeline import Pipeline

log = logging.getLogger(__name__)

Runner = Callable[..., Awaitable[Any]]

_VOLATILE = {
    "messages",
    "provider",
    "model",
    "correlation_id",
    "partial_result_token",
    "work_done_token",
    "timeout_ms",
    "session_id",
}


@dataclass
class Entry:
    scope: str
    vector: Any  # host float32, unit length
    result: ChatResult
    at: float


@dataclass
class CacheKey:
    scope: str
    vector: Any


def prompt_text(params: ChatParams) -> str:
    return "\n".join(f"{m.role}: {m.text()}" for m in params.messages)


def scope_of(params: ChatParams, provider: str, model: str) -> str:
    options = params.model_dump(mode="json", exclude=_VOLATILE, exclude_none=True)
    return json.dumps([provider, model, options], sort_keys=True)


def best_match(vectors: list[Any], query: Any) -> tuple[int, float]:
    """Index and cosine of the closest cached vector (all unit length, host NumPy)."""
    import numpy as np

    scores = np.stack(vectors) @ query
    i = int(np.argmax(scores))
    return i, float(scores[i])


class SemanticCache:
    def __init__(
        self, settings: Callable[[], SemanticCacheSettings], pipeline: Pipeline, run: Runner
    ) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._run = run
        self._entries: deque[Entry] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(
        self,
        params: ChatParams,
        provider: str,
        model: str,
        correlation_id: str,
        notices: list[str],
    ) -> tuple[ChatResult | None, CacheKey | None]:
        """(cached result, None) on a hit; (None, key to store the answer under) on a miss;
        (None, None) when the request is not cacheable or the cache is off."""
        settings = self._settings()
        if not settings.enabled or params.tools or params.session_id:
            return None, None
        started = time.perf_counter()
        try:
            embedded = await self._pipeline.embed(EmbedParams(inputs=[prompt_text(params)]))
        except DspexError as exc:
            log.warning("semantic cache: embedding failed (%s); not cached", exc.kind.value)
            return None, None
        try:
            query = await self._run(_unit_vector, embedded.embeddings[0])
        except AnalyticsInputError:
            return None, None
        scope = scope_of(params, provider, model)
        self._expire(settings.ttl_s)
        candidates = [
            e for e in self._entries if e.scope == scope and e.vector.shape == query.shape
        ]
        if candidates:
            i, score = await self._run(best_match, [e.vector for e in candidates], query)
            if score >= settings.threshold:
                hit = candidates[i].result
                return (
                    ChatResult(
                        choices=[c.model_copy(deep=True) for c in hit.choices],
                        usage=Usage(),
                        provider=hit.provider,
                        model=hit.model,
                        correlation_id=correlation_id,
                        latency_ms=round((time.perf_counter() - started) * 1000, 3),
                        notices=[
                            *notices,
                            f"semantic cache: answered from a cached reply to a similar prompt "
                            f"(cosine {score:.3f} >= {settings.threshold}); no provider call",
                        ],
                    ),
                    None,
                )
        return None, CacheKey(scope, query)

    def store(self, key: CacheKey, result: ChatResult) -> None:
        if result.error is not None:
            return
        settings = self._settings()
        kept = ChatResult(
            choices=[Choice.model_validate(c.model_dump()) for c in result.choices],
            usage=result.usage,
            provider=result.provider,
            model=result.model,
            correlation_id=result.correlation_id,
            latency_ms=result.latency_ms,
        )
        self._entries.append(Entry(key.scope, key.vector, kept, time.monotonic()))
        while len(self._entries) > settings.max_entries:
            self._entries.popleft()

    def _expire(self, ttl_s: float) -> None:
        horizon = time.monotonic() - ttl_s
        while self._entries and self._entries[0].at < horizon:
            self._entries.popleft()


def _unit_vector(values: list[float]) -> Any:
    import numpy as np

    v = np.asarray(values, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise AnalyticsInputError("embedding has zero length")
    return v / norm
