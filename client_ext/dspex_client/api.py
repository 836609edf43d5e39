"""Typed calls for every dspex method beyond chat: params are the method's params model
(given as keyword arguments, snake_case or camelCase), results are its result model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from dspex_protocol import analytics as an
from dspex_protocol import catalog as cat
from dspex_protocol import collections as co
from dspex_protocol import cost as cs
from dspex_protocol import logs as lg
from dspex_protocol import methods as m
from dspex_protocol import sessions as se
from dspex_protocol import stats as st

T = TypeVar("T", bound=BaseModel)


def _packed(params: dict[str, Any]) -> dict[str, Any]:
    """`vectors` given as an array (NumPy or anything with `shape` and `astype`) travel as
    `packedVectors` (base64 float32, ~4× smaller than JSON numbers); lists stay lists."""
    vectors = params.get("vectors")
    if vectors is None or isinstance(vectors, list | tuple):
        return params
    rest = {key: value for key, value in params.items() if key != "vectors"}
    return {**rest, "packed_vectors": an.PackedVectors.pack(vectors)}


class MethodsMixin:
    """Mixed into DspexClient, which provides `request`."""

    async def request(self, method: str, params: Any = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    async def invoke(self, spec: m.MethodSpec, params: Mapping[str, Any], result: type[T]) -> T:
        """Validate `params` against the method's model here, send, parse the result."""
        wire = spec.params.model_validate(dict(params)).to_wire()
        return result.model_validate(await self.request(spec.name, wire))

    async def performance(self, **params: Any) -> an.PerformanceResult:
        return await self.invoke(m.ANALYTICS_PERFORMANCE, params, an.PerformanceResult)

    async def compare(self, **params: Any) -> an.CompareResult:
        return await self.invoke(m.ANALYTICS_COMPARE, params, an.CompareResult)

    async def health(self, **params: Any) -> an.HealthResult:
        return await self.invoke(m.ANALYTICS_HEALTH, params, an.HealthResult)

    async def similarity(self, **params: Any) -> an.SimilarityResult:
        return await self.invoke(m.ANALYTICS_SIMILARITY, _packed(params), an.SimilarityResult)

    async def index_add(self, **params: Any) -> an.IndexAddResult:
        return await self.invoke(m.INDEX_ADD, _packed(params), an.IndexAddResult)

    async def index_query(self, **params: Any) -> an.IndexQueryResult:
        return await self.invoke(m.INDEX_QUERY, _packed(params), an.IndexQueryResult)

    async def index_drop(self, **params: Any) -> an.IndexDropResult:
        return await self.invoke(m.INDEX_DROP, params, an.IndexDropResult)

    async def index_list(self) -> an.IndexListResult:
        return await self.invoke(m.INDEX_LIST, {}, an.IndexListResult)

    # -- sessions -----------------------------------------------------------------------

    async def session_start(self, **params: Any) -> se.SessionStartResult:
        return await self.invoke(m.SESSION_START, params, se.SessionStartResult)

    async def session_chat(
        self, session_id: str, content: str | None = None, **params: Any
    ) -> se.SessionChatResult:
        params = {"session_id": session_id, "content": content, **params}
        return await self.invoke(m.SESSION_CHAT, params, se.SessionChatResult)

    async def session_history(
        self,
        session_id: str,
        limit: int | None = None,
    ) -> se.SessionHistoryResult:
        params = {"session_id": session_id, "limit": limit}
        return await self.invoke(m.SESSION_HISTORY, params, se.SessionHistoryResult)

    async def session_list(self) -> se.SessionListResult:
        return await self.invoke(m.SESSION_LIST, {}, se.SessionListResult)

    async def session_end(self, session_id: str, export: bool = False) -> se.SessionEndResult:
        params = {"session_id": session_id, "export": export}
        return await self.invoke(m.SESSION_END, params, se.SessionEndResult)

    async def session_export(self, session_id: str | None = None) -> se.SessionExport:
        return await self.invoke(m.SESSION_EXPORT, {"session_id": session_id}, se.SessionExport)

    async def session_import(
        self, data: se.SessionExport | Mapping[str, Any], on_conflict: str = "error"
    ) -> se.SessionImportResult:
        wire = data.to_wire() if isinstance(data, se.SessionExport) else dict(data)
        params = {"data": wire, "on_conflict": on_conflict}
        return await self.invoke(m.SESSION_IMPORT, params, se.SessionImportResult)

    # -- models and cost ----------------------------------------------------------------

    async def models(self, **params: Any) -> cat.ModelsListResult:
        return await self.invoke(m.MODELS_LIST, params, cat.ModelsListResult)

    async def recommend(self, **params: Any) -> cat.ModelsRecommendResult:
        return await self.invoke(m.MODELS_RECOMMEND, params, cat.ModelsRecommendResult)

    async def cost(self, **params: Any) -> cs.CostResult:
        return await self.invoke(m.COST, params, cs.CostResult)

    async def stats(self, **params: Any) -> st.StatsResult:
        """Request statistics per provider, model and session; breaker states."""
        return await self.invoke(m.STATS, params, st.StatsResult)

    async def logs_query(self, **params: Any) -> lg.LogsQueryResult:
        return await self.invoke(m.LOGS_QUERY, params, lg.LogsQueryResult)

    async def index_save(self, **params: Any) -> co.IndexSaveResult:
        return await self.invoke(m.INDEX_SAVE, params, co.IndexSaveResult)

    async def index_forget(self, **params: Any) -> co.IndexForgetResult:
        return await self.invoke(m.INDEX_FORGET, params, co.IndexForgetResult)
