"""Saved vector indexes: `dspex/index/save` writes an analytics index to the store as a
collection; the saved collections are loaded into the analytics' indexes before the first
index operation of a (restarted) daemon."""

from __future__ import annotations

import asyncio
import logging

from dspex_protocol import IndexForgetResult, IndexSaveResult

from ..analytics import Analytics
from ..analytics.backend import AnalyticsInputError
from ..analytics.index import VectorIndex
from .collections import Collection
from .service import Store

log = logging.getLogger("dspex.store")


class SavedIndexes:
    def __init__(self, store: Store, analytics: Analytics) -> None:
        self.store = store
        self.analytics = analytics
        self._loaded = False
        self._lock = asyncio.Lock()

    async def ensure_loaded(self) -> None:
        if self._loaded:
            return
        async with self._lock:
            if self._loaded:
                return
            try:
                collections = await self.store.load_collections()
            except Exception as exc:  # a broken store must not break in-memory indexes
                log.error("saved collections not loaded: %s", type(exc).__name__)
                collections = []
            indexes = self.analytics.indexes
            with indexes.lock:
                for c in collections:
                    if indexes.find(c.name) is None:
                        indexes.put(VectorIndex.restore(c.name, c.matrix, c.ids, c.metadata))
            self._loaded = True

    def _check_enabled(self) -> None:
        if not self.store.enabled:
            raise AnalyticsInputError("the store is turned off (store.enabled = false)")

    async def save(self, name: str) -> IndexSaveResult:
        self._check_enabled()
        await self.ensure_loaded()
        indexes = self.analytics.indexes

        def snapshot() -> Collection:
            with indexes.lock:
                index = indexes.get(name)
                return Collection(
                    name, index.matrix().copy(), list(index.ids), list(index.metadata)
                )

        collection = await asyncio.to_thread(snapshot)
        await self.store.save_collection(collection)
        return IndexSaveResult(
            name=name, size=len(collection.ids), dimensions=int(collection.matrix.shape[1])
        )

    async def forget(self, name: str) -> IndexForgetResult:
        self._check_enabled()
        return IndexForgetResult(name=name, forgotten=await self.store.forget_collection(name))
