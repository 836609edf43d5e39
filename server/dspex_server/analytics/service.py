"""The analytics service: sample store, health monitor, indexes and semantic cache, and the
methods the handlers call. Snapshots are taken on the event loop; every numerical step
runs on the analytics executor, so analytics never delay a chat."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from dspex_protocol import EmbedParams
from dspex_protocol import analytics as an

from ..progress import ProgressSink, no_progress
from ..telemetry import EventBus
from .backend import AnalyticsInputError, Namespace, namespace, namespace_name, to_list
from .cache import SemanticCache
from .compare import CompareOptions, Group, compare
from .health import HealthMonitor
from .index import AddStopped, IndexStore, VectorIndex
from .packed import decode_packed, decode_values
from .samples import SampleStore
from .similarity import as_matrix, cosine_matrix
from .stats import performance

if TYPE_CHECKING:
    from ..config import AnalyticsSettings, ConfigStore
    from ..pipeline import Pipeline

T = TypeVar("T")

EMBED_BATCH = 4096  # EmbedParams' limit per request
# With progress reported, texts are embedded in about this many steps (of at least
# PROGRESS_MIN_BATCH texts): each step is a report and a point where a cancel is seen.
PROGRESS_STEPS = 20
PROGRESS_MIN_BATCH = 64
EMBED_SHARE = 9  # of 10: embedding dominates an add of texts; normalising is the rest
MAX_SIMILARITY_ITEMS = 2000  # the answer is an n × n matrix of JSON numbers


HistorySource = Callable[
    [
        list[tuple[str, str | None]] | None,
        datetime | None,
        datetime | None,
        int,
        Callable[[int, int], None] | None,
    ],
    Awaitable[Sequence[Any]],
]
HISTORY_SHARE = 8  # of 10: reading the logged history; comparing is the rest


class Analytics:
    def __init__(self, config: ConfigStore, pipeline: Pipeline, events: EventBus) -> None:
        self.config = config
        self.pipeline = pipeline
        self.store = SampleStore(lambda: self.settings.window_size)
        events.subscribe(self.store.on_event, after_answer=True)
        self.health = HealthMonitor(config, self.store)
        self.indexes = IndexStore()
        self.index_loader: Callable[[], Awaitable[None]] | None = None
        # The logged history (store.history_groups), for compare's since/until.
        self.history: HistorySource | None = None
        self.cache = SemanticCache(lambda: self.settings.semantic_cache, pipeline, self.run)
        pipeline.router = self.health.route
        pipeline.chat_cache = self.cache
        self._executor: ThreadPoolExecutor | None = None

    @property
    def settings(self) -> AnalyticsSettings:
        return self.config.settings.analytics

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU work on the analytics executor (its own pool: pygls reads stdin on the
        default one)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dspex-analytics")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

    def xp(self, work_elements: int) -> Namespace:
        s = self.settings
        return namespace(s.backend, work_elements, s.gpu_min_elements)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- performance -------------------------------------------------------------------

    def _check_provider(self, provider: str) -> None:
        self.pipeline.registry.spec(provider)  # unknown → unsupported_provider

    async def performance(self, params: an.PerformanceParams) -> an.PerformanceResult:
        extra: dict[str, Any] = {}
        latencies: Any
        if params.samples is not None or params.packed_samples is not None:
            latencies = params.samples if params.samples is not None else params.packed_samples
            tps = params.tokens_per_second
            source = "samples"
        else:
            assert params.provider is not None
            self._check_provider(params.provider)
            snap = self.store.snapshot(params.provider, params.model)
            latencies = snap.latency_ms if snap else []
            tps = snap.tokens_per_s if snap else None
            source = "window"
            if snap is not None and snap.requests:
                extra = {"requests": snap.requests, "success_rate": snap.successes / snap.requests}
                if snap.costs:
                    extra["mean_cost"] = sum(snap.costs) / len(snap.costs)

        def compute() -> tuple[Any, str]:
            values = (
                decode_values(latencies) if isinstance(latencies, an.PackedValues) else latencies
            )
            xp = self.xp(len(values))
            return performance(xp, values, tps), namespace_name(xp)

        perf, backend = await self.run(compute)
        return an.PerformanceResult(
            source=source,
            provider=params.provider,
            model=params.model,
            backend=backend,
            **dataclasses.asdict(perf),
            **extra,
        )

    # -- compare -----------------------------------------------------------------------

    async def _history_groups(
        self, params: an.CompareParams, progress: ProgressSink = no_progress
    ) -> list[Group]:
        """Groups from the logged history (the store), for `since`/`until`; progress is
        told after each group is read."""
        if self.history is None:
            raise AnalyticsInputError("since/until need the durable store (store.enabled)")
        keys = None
        if params.targets is not None:
            keys = [(t.provider, t.model) for t in params.targets]
            for provider, _ in keys:
                self._check_provider(provider)
        loop = asyncio.get_running_loop()

        def read(done: int, total: int) -> None:  # on the store's reader thread
            message = f"{done}/{total} groups read"
            loop.call_soon_threadsafe(progress, HISTORY_SHARE * done, 10 * total, message)

        on_group = None if progress is no_progress else read
        rows = await self.history(keys, params.since, params.until, params.max_samples, on_group)
        return [Group(g.name, g.latencies_ms, g.successes, g.requests, g.costs) for g in rows]

    def _groups(self, params: an.CompareParams) -> list[Group]:
        if params.samples is not None:
            return [
                Group(name, s.latencies, s.successes, s.requests, s.costs)
                for name, s in params.samples.items()
            ]
        if params.targets is not None:
            keys = [(t.provider, t.model) for t in params.targets]
        else:
            keys = [(p, None) for p in self.health.providers() if self.store.snapshot(p)]
        groups = []
        for provider, model in keys:
            self._check_provider(provider)
            snap = self.store.snapshot(provider, model)
            name = provider if model is None else f"{provider}/{model}"
            if snap is None:
                groups.append(Group(name, [], 0, 0))
            else:
                groups.append(
                    Group(name, snap.latency_ms, snap.successes, snap.requests, snap.costs)
                )
        return groups

    async def compare(
        self, params: an.CompareParams, progress: ProgressSink = no_progress
    ) -> an.CompareResult:
        if params.since is not None or params.until is not None:
            groups = await self._history_groups(params, progress)
            progress(HISTORY_SHARE + 1, 10, f"comparing {len(groups)} groups")
        else:
            groups = self._groups(params)
        opts = CompareOptions(
            min_samples=params.min_samples or self.settings.min_samples,
            confidence_threshold=params.confidence_threshold or self.settings.confidence_threshold,
            resamples=params.resamples,
            ci_level=params.ci_level,
            seed=params.seed,
        )

        def compute() -> tuple[Any, str]:
            xp = self.xp(sum(len(g.latencies_ms) for g in groups) * opts.resamples)
            return compare(xp, groups, opts), namespace_name(xp)

        report, backend = await self.run(compute)
        data = dataclasses.asdict(report)
        data.pop("notes", None)
        return an.CompareResult.model_validate({**data, "backend": backend})

    # -- health ------------------------------------------------------------------------

    def health_report(self, params: an.HealthParams) -> an.HealthResult:
        if params.provider is not None:
            self._check_provider(params.provider)
            names = [params.provider]
        else:
            names = self.health.providers()
        out = []
        for name in names:
            a = self.health.assess(name)
            data = dataclasses.asdict(a)
            data.pop("messages")
            data["breakers"] = self.health.breaker_models(name) or None
            anomalies = [dataclasses.asdict(r) for r in self.health.anomalies.get(name, ())]
            out.append(an.ProviderHealth.model_validate({**data, "anomalies": anomalies}))
        return an.HealthResult(
            providers=out,
            auto_switch=self.settings.auto_switch,
            anomaly_threshold=self.settings.anomaly_threshold,
        )

    # -- embeddings, similarity, indexes ------------------------------------------------

    async def _vectors(
        self,
        texts: Sequence[str] | None,
        vectors: Any,
        provider: str | None,
        model: str | None,
        progress: ProgressSink = no_progress,
    ) -> tuple[Any, str | None, str | None]:
        """The vectors of a request: a list, embeddings of `texts`, or `PackedVectors`
        (decoded by `_matrix` on the executor)."""
        if texts is None:
            return vectors, None, None
        batch = EMBED_BATCH
        if progress is not no_progress:
            batch = min(batch, max(PROGRESS_MIN_BATCH, math.ceil(len(texts) / PROGRESS_STEPS)))
        out: list[list[float]] = []
        used_provider = used_model = None
        for start in range(0, len(texts), batch):
            result = await self.pipeline.embed(
                EmbedParams(
                    inputs=list(texts[start : start + batch]), provider=provider, model=model
                )
            )
            out.extend(result.embeddings)
            used_provider, used_model = result.provider, result.model
            progress(len(out), len(texts), f"{len(out)}/{len(texts)} texts embedded")
        return out, used_provider, used_model

    async def similarity(self, params: an.SimilarityParams) -> an.SimilarityResult:
        count = params.count
        if count > MAX_SIMILARITY_ITEMS:
            raise AnalyticsInputError(
                f"similarity: at most {MAX_SIMILARITY_ITEMS} items (the answer is n × n); "
                "use dspex/index/add and dspex/index/query for larger sets"
            )
        vectors, provider, model = await self._vectors(
            params.texts, params.vectors or params.packed_vectors, params.provider, params.model
        )
        threshold = (
            params.threshold if params.threshold is not None else self.settings.similarity_threshold
        )

        def compute() -> tuple[list[list[float]], int, list[an.SimilarPair], str]:
            xp = self.xp(count * count)
            m = as_matrix(xp, _matrix(vectors), "vectors")
            sims = cosine_matrix(xp, m)
            matrix = to_list(sims)
            pairs = [
                an.SimilarPair(i=i, j=j, score=row[j])
                for i, row in enumerate(matrix)
                for j in range(i + 1, len(row))
                if row[j] >= threshold
            ]
            pairs.sort(key=lambda p: -p.score)
            return matrix, int(m.shape[1]), pairs, namespace_name(xp)

        matrix, dims, pairs, backend = await self.run(compute)
        return an.SimilarityResult(
            matrix=matrix,
            dimensions=dims,
            threshold=threshold,
            pairs=pairs,
            provider=provider,
            model=model,
            backend=backend,
        )

    async def indexes_ready(self) -> None:
        """Saved collections (the store) are loaded before the first index operation."""
        if self.index_loader is not None:
            await self.index_loader()

    async def index_add(
        self, params: an.IndexAddParams, progress: ProgressSink = no_progress
    ) -> an.IndexAddResult:
        """All or nothing: a cancel while texts are embedded, or before the vectors are
        normalised, changes nothing; once they are being stored the add completes and is
        answered (LSP lets a cancelled request answer with its result)."""
        await self.indexes_ready()
        units = params.count * 10  # progress units: embedding is 9/10 of an add of texts

        def embedded(done: int, total: int, message: str | None = None) -> None:
            progress(EMBED_SHARE * done, units, message)

        on_embedded: ProgressSink = no_progress if progress is no_progress else embedded
        vectors, _, _ = await self._vectors(
            params.texts,
            params.vectors or params.packed_vectors,
            params.provider,
            params.model,
            on_embedded,
        )
        n = params.count if params.texts is None else len(vectors)
        if params.ids is not None and len(params.ids) != n:
            raise AnalyticsInputError(f"ids: {len(params.ids)} ids for {n} vectors")
        if params.metadata is not None and len(params.metadata) != n:
            raise AnalyticsInputError(f"metadata: {len(params.metadata)} entries for {n} vectors")
        metadata: list[dict[str, Any] | None] = list(params.metadata or [None] * n)
        if params.texts is not None:
            metadata = [
                {"text": t, **(md or {})} for t, md in zip(params.texts, metadata, strict=True)
            ]
        limit = self.settings.index_max_vectors
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        first = EMBED_SHARE * n if params.texts is not None else 0

        def normalised(rows: int) -> None:  # on the executor: report from the loop
            share = 10 - EMBED_SHARE if params.texts is not None else 10
            loop.call_soon_threadsafe(progress, first + rows * share, units, f"{rows}/{n} stored")

        def compute() -> an.IndexAddResult:
            rows = _matrix(vectors)
            with self.indexes.lock:
                if self.indexes.total_vectors() + n > limit:
                    raise AnalyticsInputError(
                        f"indexes would exceed analytics.indexMaxVectors={limit} vectors"
                    )
                existing = self.indexes.find(params.name)
                xp = self.xp(0)  # inserting is a normalisation: never worth a GPU transfer
                m = as_matrix(xp, rows, "vectors")
                index = existing or VectorIndex(params.name, int(m.shape[1]))
                ids = params.ids or [str(index.size + i) for i in range(n)]
                index.add(xp, m, ids, metadata, normalised, stop)
                if existing is None:
                    self.indexes.put(index)
                return an.IndexAddResult(
                    name=params.name, added=n, size=index.size, dimensions=index.dimensions
                )

        work = asyncio.ensure_future(self.run(compute))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()  # seen before the first row is stored, else the add completes
            try:
                return await work
            except AddStopped:
                raise asyncio.CancelledError from None

    async def index_query(self, params: an.IndexQueryParams) -> an.IndexQueryResult:
        await self.indexes_ready()
        index = self.indexes.get(params.name)
        vectors, _, _ = await self._vectors(
            params.texts, params.vectors or params.packed_vectors, params.provider, params.model
        )
        count = params.count if params.texts is None else len(vectors)

        def compute() -> an.IndexQueryResult:
            queries = _matrix(vectors, "packedVectors (queries)")
            with self.indexes.lock:
                xp = self.xp(index.size * index.dimensions * count)
                hits = index.query(xp, queries, params.k, params.threshold)
            return an.IndexQueryResult(
                name=params.name,
                results=[[an.IndexMatch(**dataclasses.asdict(h)) for h in row] for row in hits],
                backend=namespace_name(xp),
            )

        return await self.run(compute)

    async def index_drop(self, params: an.IndexDropParams) -> an.IndexDropResult:
        await self.indexes_ready()

        def compute() -> bool:
            with self.indexes.lock:
                return self.indexes.drop(params.name)

        return an.IndexDropResult(name=params.name, dropped=await self.run(compute))

    def index_list(self) -> an.IndexListResult:
        return an.IndexListResult(
            indexes=[an.IndexInfo(**dataclasses.asdict(i)) for i in self.indexes.list()]
        )


def _matrix(vectors: Any, what: str = "packedVectors") -> Any:
    """A request's vectors as given, packed ones decoded (on the executor: a decode of tens
    of megabytes must not hold up the event loop)."""
    if isinstance(vectors, an.PackedVectors):
        return decode_packed(vectors, what)
    return vectors
