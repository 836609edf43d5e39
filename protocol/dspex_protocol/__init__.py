"""dspex_protocol: the wire contract of the dspex daemon (pydantic v2 models only).

Names are imported from their area's module on first use (PEP 562), so that importing one
light module of the package (`dspex_protocol.names`, read while the daemon answers
`initialize`) does not import pydantic and every model. Add an export both to the
`TYPE_CHECKING` block (for type checkers) and to `__all__`; a new area module also goes
into `_AREAS`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analytics import (
        CompareParams,
        CompareResult,
        HealthParams,
        HealthResult,
        IndexAddParams,
        IndexAddResult,
        IndexDropParams,
        IndexDropResult,
        IndexListParams,
        IndexListResult,
        IndexQueryParams,
        IndexQueryResult,
        PackedValues,
        PackedVectors,
        PerformanceParams,
        PerformanceResult,
        SimilarityParams,
        SimilarityResult,
    )
    from .catalog import (
        CatalogModel,
        ModelPricing,
        ModelsListParams,
        ModelsListResult,
        ModelsRecommendParams,
        ModelsRecommendResult,
        Recommendation,
    )
    from .chat import (
        AssistantMessage,
        Attempt,
        ChatChunk,
        ChatDelta,
        ChatParams,
        ChatResult,
        Choice,
        FailoverCause,
        FailoverMark,
        FallbackTarget,
        FinishReason,
        Message,
        NamedToolChoice,
        ReasoningConfig,
        ResponseFormat,
        ServerToolSpec,
        TokenLogprob,
        ToolCall,
        ToolCallDelta,
        ToolChoice,
        ToolDefinition,
        TopLogprob,
        Usage,
    )
    from .collections import (
        IndexForgetParams,
        IndexForgetResult,
        IndexSaveParams,
        IndexSaveResult,
    )
    from .content import (
        ASSISTANT_ONLY_PARTS,
        AssistantPart,
        AudioPart,
        CacheControl,
        ContentPart,
        DocumentPart,
        ImagePart,
        ReasoningPart,
        RefusalPart,
        ServerToolPart,
        TextPart,
    )
    from .cost import Budgets, Cost, CostParams, CostResult, CostTotal, ModelCostTotal, Truncation
    from .editor import (
        InlineCompletionCounts,
        InlineCompletionShown,
        InlineCompletionStatsParams,
        InlineCompletionStatsResult,
    )
    from .embed import EmbedParams, EmbedResult, EmbedUsage
    from .errors import (
        ERROR_CODES,
        INVALID_PARAMS_CODE,
        KIND_BY_CODE,
        METHOD_NOT_FOUND_CODE,
        REQUEST_CANCELLED_CODE,
        ErrorData,
        ErrorKind,
        InvalidParamsData,
    )
    from .initialize import PROTOCOL_VERSION, DspexCapabilities
    from .logs import LogEntry, LogsQueryParams, LogsQueryResult
    from .methods import METHODS, MethodSpec
    from .names import COMMAND_NAMES, METHOD_NAMES
    from .predict import (
        Demo,
        FieldSpec,
        PredictMode,
        PredictParams,
        PredictResult,
        PredictStrategy,
        SignatureSpec,
    )
    from .providers import (
        ConfigParams,
        ConfigResult,
        ProviderInfo,
        ProvidersParams,
        ProvidersResult,
    )
    from .sessions import (
        SessionChatParams,
        SessionChatResult,
        SessionData,
        SessionEndParams,
        SessionEndResult,
        SessionExport,
        SessionExportParams,
        SessionHistoryParams,
        SessionHistoryResult,
        SessionImportParams,
        SessionImportResult,
        SessionInfo,
        SessionListParams,
        SessionListResult,
        SessionMessage,
        SessionOptions,
        SessionStartParams,
        SessionStartResult,
        SessionStats,
    )
    from .stats import (
        CircuitInfo,
        LatencySummary,
        ModelStats,
        ProviderStats,
        RequestStats,
        SessionRequestStats,
        StatsParams,
        StatsResult,
        TelemetryEvent,
    )

__all__ = [
    "ASSISTANT_ONLY_PARTS",
    "COMMAND_NAMES",
    "ERROR_CODES",
    "INVALID_PARAMS_CODE",
    "KIND_BY_CODE",
    "METHODS",
    "METHOD_NAMES",
    "METHOD_NOT_FOUND_CODE",
    "PROTOCOL_VERSION",
    "REQUEST_CANCELLED_CODE",
    "AssistantMessage",
    "AssistantPart",
    "Attempt",
    "AudioPart",
    "Budgets",
    "CacheControl",
    "CatalogModel",
    "ChatChunk",
    "ChatDelta",
    "ChatParams",
    "ChatResult",
    "Choice",
    "CircuitInfo",
    "CompareParams",
    "CompareResult",
    "ConfigParams",
    "ConfigResult",
    "ContentPart",
    "Cost",
    "CostParams",
    "CostResult",
    "CostTotal",
    "Demo",
    "DocumentPart",
    "DspexCapabilities",
    "EmbedParams",
    "EmbedResult",
    "EmbedUsage",
    "ErrorData",
    "ErrorKind",
    "FailoverCause",
    "FailoverMark",
    "FallbackTarget",
    "FieldSpec",
    "FinishReason",
    "HealthParams",
    "HealthResult",
    "ImagePart",
    "IndexAddParams",
    "IndexAddResult",
    "IndexDropParams",
    "IndexDropResult",
    "IndexForgetParams",
    "IndexForgetResult",
    "IndexListParams",
    "IndexListResult",
    "IndexQueryParams",
    "IndexQueryResult",
    "IndexSaveParams",
    "IndexSaveResult",
    "InlineCompletionCounts",
    "InlineCompletionShown",
    "InlineCompletionStatsParams",
    "InlineCompletionStatsResult",
    "InvalidParamsData",
    "LatencySummary",
    "LogEntry",
    "LogsQueryParams",
    "LogsQueryResult",
    "Message",
    "MethodSpec",
    "ModelCostTotal",
    "ModelPricing",
    "ModelStats",
    "ModelsListParams",
    "ModelsListResult",
    "ModelsRecommendParams",
    "ModelsRecommendResult",
    "NamedToolChoice",
    "PackedValues",
    "PackedVectors",
    "PerformanceParams",
    "PerformanceResult",
    "PredictMode",
    "PredictParams",
    "PredictResult",
    "PredictStrategy",
    "ProviderInfo",
    "ProviderStats",
    "ProvidersParams",
    "ProvidersResult",
    "ReasoningConfig",
    "ReasoningPart",
    "Recommendation",
    "RefusalPart",
    "RequestStats",
    "ResponseFormat",
    "ServerToolPart",
    "ServerToolSpec",
    "SessionChatParams",
    "SessionChatResult",
    "SessionData",
    "SessionEndParams",
    "SessionEndResult",
    "SessionExport",
    "SessionExportParams",
    "SessionHistoryParams",
    "SessionHistoryResult",
    "SessionImportParams",
    "SessionImportResult",
    "SessionInfo",
    "SessionListParams",
    "SessionListResult",
    "SessionMessage",
    "SessionOptions",
    "SessionRequestStats",
    "SessionStartParams",
    "SessionStartResult",
    "SessionStats",
    "SignatureSpec",
    "SimilarityParams",
    "SimilarityResult",
    "StatsParams",
    "StatsResult",
    "TelemetryEvent",
    "TextPart",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolDefinition",
    "TopLogprob",
    "Truncation",
    "Usage",
]

# Searched in this order for a name not yet imported; the heaviest area last.
_AREAS = (
    "names",
    "_base",
    "errors",
    "initialize",
    "content",
    "chat",
    "embed",
    "providers",
    "cost",
    "catalog",
    "logs",
    "collections",
    "predict",
    "sessions",
    "stats",
    "analytics",
    "editor",
    "methods",
)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for area in _AREAS:
        module = importlib.import_module(f".{area}", __name__)
        if name in vars(module):
            value = vars(module)[name]
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
