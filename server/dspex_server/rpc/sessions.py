"""`dspex/session/*`, `dspex/models/*` and `dspex/cost` handlers."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from dspex_protocol import (
    CostParams,
    ModelsListParams,
    ModelsRecommendParams,
    SessionChatParams,
    SessionEndParams,
    SessionExportParams,
    SessionHistoryParams,
    SessionImportParams,
    SessionStartParams,
)
from dspex_protocol import methods as m

from ..app import DspexServer
from ..errors import InvalidParams
from ..services import Services
from ..sessions.store import SessionExists, UnknownSession
from .base import method, partial_results

T = TypeVar("T")


async def known(spec: m.MethodSpec, call: Awaitable[T]) -> T:
    """An unknown or already used sessionId is a bad parameter (-32602), named in
    `data.errors`."""
    try:
        return await call
    except UnknownSession as exc:
        raise InvalidParams(
            f"{spec.name}: unknown sessionId {exc.session_id!r}",
            data={
                "method": spec.name,
                "errors": [
                    {"loc": ["sessionId"], "msg": "unknown session", "type": "unknown_session"}
                ],
            },
        ) from None
    except SessionExists as exc:
        raise InvalidParams(
            f"{spec.name}: session {exc.session_id!r} already exists "
            "(import with onConflict 'replace' or 'new_id')",
            data={
                "method": spec.name,
                "errors": [
                    {"loc": exc.loc, "msg": "session already exists", "type": "session_exists"}
                ],
            },
        ) from None


def register(server: DspexServer, services: Services) -> None:
    sessions = services.sessions

    @method(server, m.SESSION_START)
    async def start(params: SessionStartParams) -> Any:
        return await known(m.SESSION_START, sessions.start(params))

    @method(server, m.SESSION_CHAT)
    async def chat(params: SessionChatParams) -> Any:
        with partial_results(server, params.partial_result_token) as sink:
            return await known(m.SESSION_CHAT, sessions.chat(params, sink))

    @method(server, m.SESSION_HISTORY)
    async def history(params: SessionHistoryParams) -> Any:
        return await known(m.SESSION_HISTORY, sessions.history(params))

    @method(server, m.SESSION_LIST)
    async def list_(_: Any) -> Any:
        return await sessions.list_sessions()

    @method(server, m.SESSION_END)
    async def end(params: SessionEndParams) -> Any:
        return await known(m.SESSION_END, sessions.end(params))

    @method(server, m.SESSION_EXPORT)
    async def export(params: SessionExportParams) -> Any:
        return await known(m.SESSION_EXPORT, sessions.export(params))

    @method(server, m.SESSION_IMPORT)
    async def import_(params: SessionImportParams) -> Any:
        return await known(m.SESSION_IMPORT, sessions.import_(params))

    @method(server, m.MODELS_LIST)
    async def models_list(params: ModelsListParams) -> Any:
        return await services.catalog.list(params)

    @method(server, m.MODELS_RECOMMEND)
    async def models_recommend(params: ModelsRecommendParams) -> Any:
        return await services.catalog.recommend(params)

    @method(server, m.COST)
    async def cost(params: CostParams) -> Any:
        return services.cost_result(params)
