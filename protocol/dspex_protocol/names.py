"""What the daemon tells in its `initialize` answer, without pydantic or any model: the
protocol version and the names of every dspex method (the same list, in the same order, as
`methods.ALL`; a test holds the two together)."""

from __future__ import annotations

PROTOCOL_VERSION = "1.0"

METHOD_NAMES: tuple[str, ...] = (
    "dspex/chat",
    "dspex/embed",
    "dspex/providers",
    "dspex/config",
    "dspex/stats",
    "dspex/session/start",
    "dspex/session/chat",
    "dspex/session/history",
    "dspex/session/list",
    "dspex/session/end",
    "dspex/session/export",
    "dspex/session/import",
    "dspex/models/list",
    "dspex/models/recommend",
    "dspex/cost",
    "dspex/predict",
    "dspex/predict/batch",
    "dspex/analytics/performance",
    "dspex/analytics/compare",
    "dspex/analytics/health",
    "dspex/analytics/similarity",
    "dspex/index/add",
    "dspex/index/query",
    "dspex/index/drop",
    "dspex/index/list",
    "dspex/logs/query",
    "dspex/index/save",
    "dspex/index/forget",
    "dspex/analytics/inlineCompletion",
    "dspex/mock/requests",
)

COMMAND_NAMES: tuple[str, ...] = (
    "dspex.predict",
    "dspex.inlineCompletion.accept",
    "dspex.chat",
    "dspex.explain",
)

# Notifications an editor sends to the daemon (not requests: no result model).
INLINE_COMPLETION_DID_SHOW = "dspex/inlineCompletion/didShow"
