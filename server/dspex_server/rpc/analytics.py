"""Analytics handlers: performance, compare, health, similarity and vector indexes. An
index add of a large set and a compare over the logged history report work-done progress."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from dspex_protocol import analytics as an
from dspex_protocol import methods as m

from ..analytics.backend import AnalyticsInputError
from ..analytics.index import NORMALISE_ROWS
from ..analytics.service import PROGRESS_MIN_BATCH
from ..app import DspexServer
from ..errors import InvalidParams
from ..services import Services
from .base import method
from .progress import work_done

T = TypeVar("T")


async def _checked(name: str, work: Awaitable[T]) -> T:
    """Input the analytics refuse (NaN, dimension mismatch, unknown index...) is the
    client's error: -32602 with the reason, like a params validation failure."""
    try:
        return await work
    except AnalyticsInputError as exc:
        raise InvalidParams(
            f"{name}: {exc}",
            data={
                "method": name,
                "errors": [{"loc": [], "msg": str(exc), "type": "value_error"}],
            },
        ) from None


def register(server: DspexServer, services: Services) -> None:
    analytics = services.analytics

    @method(server, m.ANALYTICS_PERFORMANCE)
    async def performance(params: an.PerformanceParams) -> Any:
        return await _checked(m.ANALYTICS_PERFORMANCE.name, analytics.performance(params))

    @method(server, m.ANALYTICS_COMPARE)
    async def compare(params: an.CompareParams) -> Any:
        history = params.since is not None or params.until is not None
        title = "dspex: compare the logged history" if history else "dspex: compare"
        async with work_done(server, params.work_done_token, title, long=history) as progress:
            return await _checked(m.ANALYTICS_COMPARE.name, analytics.compare(params, progress))

    @method(server, m.ANALYTICS_HEALTH)
    async def health(params: an.HealthParams) -> Any:
        return analytics.health_report(params)

    @method(server, m.ANALYTICS_SIMILARITY)
    async def similarity(params: an.SimilarityParams) -> Any:
        return await _checked(m.ANALYTICS_SIMILARITY.name, analytics.similarity(params))

    @method(server, m.INDEX_ADD)
    async def index_add(params: an.IndexAddParams) -> Any:
        # Server-initiated progress where the add takes more than one step.
        large = params.count > (PROGRESS_MIN_BATCH if params.texts else 2 * NORMALISE_ROWS)
        title = f"dspex: index {params.name}"
        async with work_done(server, params.work_done_token, title, long=large) as progress:
            return await _checked(m.INDEX_ADD.name, analytics.index_add(params, progress))

    @method(server, m.INDEX_QUERY)
    async def index_query(params: an.IndexQueryParams) -> Any:
        return await _checked(m.INDEX_QUERY.name, analytics.index_query(params))

    @method(server, m.INDEX_DROP)
    async def index_drop(params: an.IndexDropParams) -> Any:
        return await _checked(m.INDEX_DROP.name, analytics.index_drop(params))

    @method(server, m.INDEX_LIST)
    async def index_list(_: an.IndexListParams) -> Any:
        await analytics.indexes_ready()
        return analytics.index_list()
