"""`dspex/logs/query`: the durable log of exchanges."""

from __future__ import annotations

from typing import Any

from dspex_protocol import LogsQueryParams, LogsQueryResult
from dspex_protocol import methods as m

from ..app import DspexServer
from ..errors import InvalidParams
from ..services import Services
from .base import method


def register(server: DspexServer, services: Services) -> None:
    @method(server, m.LOGS_QUERY)
    async def logs_query(params: LogsQueryParams) -> Any:
        store = services.store
        if not store.enabled:
            return LogsQueryResult(entries=[], enabled=False)
        try:
            return await store.query_logs(params)
        except ValueError as exc:  # a bad cursor or FTS query: the client's error
            name = m.LOGS_QUERY.name
            raise InvalidParams(
                f"{name}: {exc}",
                data={
                    "method": name,
                    "errors": [{"loc": [], "msg": str(exc), "type": "value_error"}],
                },
            ) from None
