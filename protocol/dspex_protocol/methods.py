"""The one list of dspex methods: name, params model, result model, what it does."""

from __future__ import annotations

from dataclasses import dataclass

from . import analytics as an
from . import collections as co
from . import editor as ed
from . import logs as lg
from ._base import WireModel
from .catalog import (
    ModelsListParams,
    ModelsListResult,
    ModelsRecommendParams,
    ModelsRecommendResult,
)
from .chat import ChatChunk, ChatParams, ChatResult
from .cost import CostParams, CostResult
from .embed import EmbedParams, EmbedResult
from .mock import MockRequestsParams, MockRequestsResult
from .predict import PredictBatchParams, PredictBatchResult, PredictParams, PredictResult
from .providers import ConfigParams, ConfigResult, ProvidersParams, ProvidersResult
from .sessions import (
    SessionChatParams,
    SessionChatResult,
    SessionEndParams,
    SessionEndResult,
    SessionExport,
    SessionExportParams,
    SessionHistoryParams,
    SessionHistoryResult,
    SessionImportParams,
    SessionImportResult,
    SessionListParams,
    SessionListResult,
    SessionStartParams,
    SessionStartResult,
)
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
PREDICT = MethodSpec(
    "dspex/predict",
    PredictParams,
    PredictResult,
    "Structured prediction: a signature and inputs in, validated outputs out (parsed, "
    "validated and re-asked within maxRetries), with attempts, usage and cost summed.",
)
PREDICT_BATCH = MethodSpec(
    "dspex/predict/batch",
    PredictBatchParams,
    PredictBatchResult,
    "One signature on many inputs, `concurrency` at a time, each item answered in its place "
    "(a result or an error). Reports work-done progress on `workDoneToken` (or a token the "
    "daemon creates where the client supports it); `window/workDoneProgress/cancel` stops "
    "it and answers what is done, the rest marked `cancelled`.",
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

SESSION_START = MethodSpec(
    "dspex/session/start",
    SessionStartParams,
    SessionStartResult,
    "Start a conversation session: provider, model, system prompt and request options.",
)
SESSION_CHAT = MethodSpec(
    "dspex/session/chat",
    SessionChatParams,
    SessionChatResult,
    "One turn of a session: the user's content (and/or tool results) is appended, the history "
    "sent, the answer appended. Streams like dspex/chat; turns of one session never interleave.",
    partial_result=ChatChunk,
)
SESSION_HISTORY = MethodSpec(
    "dspex/session/history",
    SessionHistoryParams,
    SessionHistoryResult,
    "A session's messages with timestamps, the newest `limit` of them.",
)
SESSION_LIST = MethodSpec(
    "dspex/session/list",
    SessionListParams,
    SessionListResult,
    "Every live session with its usage, cost and stats.",
)
SESSION_END = MethodSpec(
    "dspex/session/end",
    SessionEndParams,
    SessionEndResult,
    "End a session (optionally returning its export).",
)
SESSION_EXPORT = MethodSpec(
    "dspex/session/export",
    SessionExportParams,
    SessionExport,
    "One or every session as JSON, secrets stripped; dspex/session/import takes it back.",
)
SESSION_IMPORT = MethodSpec(
    "dspex/session/import",
    SessionImportParams,
    SessionImportResult,
    "Restore sessions from an export.",
)
MODELS_LIST = MethodSpec(
    "dspex/models/list",
    ModelsListParams,
    ModelsListResult,
    "The model catalog (context window, max output, pricing, capabilities), optionally merged "
    "with the providers' live model lists.",
)
MODELS_RECOMMEND = MethodSpec(
    "dspex/models/recommend",
    ModelsRecommendParams,
    ModelsRecommendResult,
    "Models that have the required features, context and price, ranked, with reasons.",
)
COST = MethodSpec(
    "dspex/cost",
    CostParams,
    CostResult,
    "Spending per provider, model and session, and the budgets in force.",
)
ANALYTICS_PERFORMANCE = MethodSpec(
    "dspex/analytics/performance",
    an.PerformanceParams,
    an.PerformanceResult,
    "Latency statistics of a provider/model's recent window, or of explicit samples.",
)
ANALYTICS_COMPARE = MethodSpec(
    "dspex/analytics/compare",
    an.CompareParams,
    an.CompareResult,
    "Pairwise provider comparison (Welch, Mann-Whitney, bootstrap, two-proportion), "
    "rankings and a recommendation; 'insufficient_data' below minSamples.",
)
ANALYTICS_HEALTH = MethodSpec(
    "dspex/analytics/health",
    an.HealthParams,
    an.HealthResult,
    "Health score, latency drift and anomalies per provider.",
)
ANALYTICS_SIMILARITY = MethodSpec(
    "dspex/analytics/similarity",
    an.SimilarityParams,
    an.SimilarityResult,
    "Pairwise cosine similarity of texts (embedded) or vectors.",
)
INDEX_ADD = MethodSpec(
    "dspex/index/add",
    an.IndexAddParams,
    an.IndexAddResult,
    "Add texts or vectors to a named in-memory vector index (created on first add).",
)
INDEX_QUERY = MethodSpec(
    "dspex/index/query",
    an.IndexQueryParams,
    an.IndexQueryResult,
    "Exact top-k cosine search of a named index, optionally above a threshold.",
)
INDEX_DROP = MethodSpec(
    "dspex/index/drop", an.IndexDropParams, an.IndexDropResult, "Drop a named index."
)
INDEX_LIST = MethodSpec(
    "dspex/index/list", an.IndexListParams, an.IndexListResult, "The named indexes and sizes."
)

LOGS_QUERY = MethodSpec(
    "dspex/logs/query",
    lg.LogsQueryParams,
    lg.LogsQueryResult,
    "The durable log of exchanges, newest first: filters, FTS5 text search, paging.",
)
INDEX_SAVE = MethodSpec(
    "dspex/index/save",
    co.IndexSaveParams,
    co.IndexSaveResult,
    "Keep a named index as a collection in the durable store (replacing the saved copy); "
    "saved collections are loaded again after a restart.",
)
INDEX_FORGET = MethodSpec(
    "dspex/index/forget",
    co.IndexForgetParams,
    co.IndexForgetResult,
    "Delete a saved collection (the in-memory index, if any, stays until dropped).",
)

ANALYTICS_INLINE_COMPLETION = MethodSpec(
    "dspex/analytics/inlineCompletion",
    ed.InlineCompletionStatsParams,
    ed.InlineCompletionStatsResult,
    "Acceptance of `textDocument/inlineCompletion` items since the daemon started: offered, "
    "shown (`dspex/inlineCompletion/didShow`), accepted (the item's command), by language "
    "and provider.",
)

MOCK_REQUESTS = MethodSpec(
    "dspex/mock/requests",
    MockRequestsParams,
    MockRequestsResult,
    "The last requests the built-in mock provider received (chat and embed, oldest first), "
    "so that tests written against the mock can check what was sent.",
)

# Each area adds its specs here, one line each.
ALL: tuple[MethodSpec, ...] = (
    CHAT,
    EMBED,
    PROVIDERS,
    CONFIG,
    STATS,
    SESSION_START,
    SESSION_CHAT,
    SESSION_HISTORY,
    SESSION_LIST,
    SESSION_END,
    SESSION_EXPORT,
    SESSION_IMPORT,
    MODELS_LIST,
    MODELS_RECOMMEND,
    COST,
    PREDICT,
    PREDICT_BATCH,
    ANALYTICS_PERFORMANCE,
    ANALYTICS_COMPARE,
    ANALYTICS_HEALTH,
    ANALYTICS_SIMILARITY,
    INDEX_ADD,
    INDEX_QUERY,
    INDEX_DROP,
    INDEX_LIST,
    LOGS_QUERY,
    INDEX_SAVE,
    INDEX_FORGET,
    ANALYTICS_INLINE_COMPLETION,
    MOCK_REQUESTS,
)

METHODS: dict[str, MethodSpec] = {m.name: m for m in ALL}


@dataclass(frozen=True)
class CommandSpec:
    """A `workspace/executeCommand` command: its one argument and its result."""

    name: str
    argument: type[WireModel]
    result: type[WireModel]
    summary: str


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "dspex.predict",
        PredictParams,
        PredictResult,
        "dspex/predict for generic LSP clients: one argument shaped like its params.",
    ),
    CommandSpec(
        "dspex.inlineCompletion.accept",
        ed.InlineCompletionShown,
        ed.InlineCompletionAccepted,
        "An inline completion item's own command: counts the item (its id, or {id}) accepted.",
    ),
    CommandSpec(
        "dspex.chat",
        ed.ChatCommandArgs,
        ed.CommandAnswer,
        "Ask a model (the prompt as a string, or an object). The answer is shown: a short one "
        "with window/showMessage, a long one as a markdown file opened with "
        "window/showDocument (else window/showMessage), and returned.",
    ),
    CommandSpec(
        "dspex.explain",
        ed.ExplainCommandArgs,
        ed.CommandAnswer,
        "Explain a selection (a synced document's range or lines, or text) in the document's "
        "language; shown and returned as dspex.chat's answer.",
    ),
)
