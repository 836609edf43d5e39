"""The durable store's methods: `dspex/logs/query`, `dspex/index/save`, `dspex/index/forget`."""

from __future__ import annotations

from typing import Any

from dspex_protocol import (
    IndexForgetParams,
    IndexSaveParams,
    LogsQueryParams,
    LogsQueryResult,
)
from dspex_protocol import methods as m

from ..analytics.backend import AnalyticsInputError
from ..app import DspexServer
from ..errors import InvalidParams
from ..services import Services
from .base import method


def _invalid(name: str, exc: Exception) -> InvalidParams:
    return InvalidParams(
        f"{name}: {exc}",
        data={"method": name, "errors": [{"loc": [], "msg": str(exc), "type": "value_error"}]},
    )


def register(server: DspexServer, services: Services) -> None:
    store = services.store

    @method(server, m.LOGS_QUERY)
    async def logs_query(params: LogsQueryParams) -> Any:
        if not store.enabled:
            return LogsQueryResult(entries=[], enabled=False)
        try:
            return await store.query_logs(params)
        except ValueError as exc:  # a bad cursor or FTS query: the client's error
            raise _invalid(m.LOGS_QUERY.name, exc) from None

    @method(server, m.INDEX_SAVE)
    async def index_save(params: IndexSaveParams) -> Any:
        try:
            return await services.saved_indexes.save(params.name)
        except AnalyticsInputError as exc:  # no such index, or the store is off
            raise _invalid(m.INDEX_SAVE.name, exc) from None

    @method(server, m.INDEX_FORGET)
    async def index_forget(params: IndexForgetParams) -> Any:
        try:
            return await services.saved_indexes.forget(params.name)
        except AnalyticsInputError as exc:
            raise _invalid(m.INDEX_FORGET.name, exc) from None
