"""The one list of dspex methods: name, params model, result model, what it does."""

from __future__ import annotations

from dataclasses import dataclass

from ._base import WireModel
from .chat import ChatChunk, ChatParams, ChatResult
from .embed import EmbedParams, EmbedResult
from .providers import ConfigParams, ConfigResult, ProvidersParams, ProvidersResult
from .stats import StatsParams, StatsResult


@dataclass(frozen=True)
class MethodSpec:
    name: str
    params: type[WireModel]
    result: type[WireModel]
    summary: str
    partial_result: type[WireModel] | None = None


CHAT = MethodSpec(
    "dspex/chat",
    ChatParams,
    ChatResult,
    "One chat completion on any provider. With `partialResultToken` the answer streams as "
    "`$/progress` notifications (each a ChatChunk) before the complete result.",
    partial_result=ChatChunk,
)
EMBED = MethodSpec(
    "dspex/embed",
    EmbedParams,
    EmbedResult,
    "Embeddings of one or more texts, from the named provider or the default embedder.",
)
PROVIDERS = MethodSpec(
    "dspex/providers",
    ProvidersParams,
    ProvidersResult,
    "Every provider the daemon knows, whether it is configured, and the default one.",
)
CONFIG = MethodSpec(
    "dspex/config",
    ConfigParams,
    ConfigResult,
    "The effective configuration with every secret redacted.",
)
STATS = MethodSpec(
    "dspex/stats",
    StatsParams,
    StatsResult,
    "Request counters, state, circuit breakers and latency summaries per provider, model "
    "and session (filtered by the params given).",
)

# Each area adds its specs here, one line each.
ALL: tuple[MethodSpec, ...] = (
    CHAT,
    EMBED,
    PROVIDERS,
    CONFIG,
    STATS,
)

METHODS: dict[str, MethodSpec] = {m.name: m for m in ALL}
