"""Named in-memory vector indexes with exact top-k cosine search.

Vectors are L2-normalised on insert and kept on the host as float32 (half the memory of
float64; scores agree with a float64 brute force to ~1e-6). A query moves the matrix to
the chosen namespace; a CuPy copy is kept until the index changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .backend import AnalyticsInputError, Array, Namespace, namespace_name, to_host
from .similarity import as_matrix, blocked_topk, check_dimensions, l2_normalize


@dataclass
class Hit:
    id: str
    score: float
    metadata: dict[str, Any] | None = None


@dataclass
class VectorIndex:
    name: str
    dimensions: int
    ids: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any] | None] = field(default_factory=list)
    _rows: dict[str, int] = field(default_factory=dict)
    _blocks: list[Any] = field(default_factory=list)  # host float32 arrays, merged lazily
    _device: dict[str, Any] = field(default_factory=dict)  # namespace name → its copy

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def restore(
        cls, name: str, matrix: Any, ids: list[str], metadata: list[dict[str, Any] | None]
    ) -> VectorIndex:
        """An index from saved rows (`matrix`: host float32, already normalised)."""
        index = cls(name, int(matrix.shape[1]), list(ids), list(metadata))
        index._rows = {i: n for n, i in enumerate(ids)}
        index._blocks = [matrix] if len(ids) else []
        return index

    def matrix(self) -> Any:
        """The host (NumPy) matrix of all normalised vectors, one block after a merge."""
        import numpy as np

        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks, axis=0)]
        if not self._blocks:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self._blocks[0]

    def add(
        self,
        xp: Namespace,
        vectors: Any,
        ids: list[str],
        metadata: list[dict[str, Any] | None],
    ) -> None:
        import numpy as np

        m = as_matrix(xp, vectors, "vectors")
        check_dimensions(self.dimensions, int(m.shape[1]), f"index {self.name!r}")
        if len(ids) != int(m.shape[0]):
            raise AnalyticsInputError("ids: one id per vector required")
        if len(set(ids)) != len(ids):
            raise AnalyticsInputError("ids: duplicates in one request")
        clash = next((i for i in ids if i in self._rows), None)
        if clash is not None:
            raise AnalyticsInputError(f"index {self.name!r} already holds id {clash!r}")
        normalised = to_host(l2_normalize(xp, m, "vectors"))
        self._blocks.append(np.asarray(normalised, dtype=np.float32))
        self._device.clear()
        for i in ids:
            self._rows[i] = len(self.ids)
            self.ids.append(i)
        self.metadata.extend(metadata)

    def base(self, xp: Namespace) -> Array:
        name = namespace_name(xp)
        if name == "numpy":
            return xp.asarray(self.matrix())
        cached = self._device.get(name)
        if cached is None:
            cached = xp.asarray(self.matrix())
            if name == "cupy":
                self._device[name] = cached
        return cached

    def query(
        self, xp: Namespace, queries: Any, k: int, threshold: float | None
    ) -> list[list[Hit]]:
        q = as_matrix(xp, queries, "query vectors")
        check_dimensions(self.dimensions, int(q.shape[1]), f"index {self.name!r}")
        if self.size == 0:
            return [[] for _ in range(int(q.shape[0]))]
        qn = xp.astype(l2_normalize(xp, q, "query vectors"), xp.float32)
        scores, idx = blocked_topk(xp, qn, self.base(xp), k)
        host_scores, host_idx = to_host(scores).tolist(), to_host(idx).tolist()
        out: list[list[Hit]] = []
        for row_scores, row_idx in zip(host_scores, host_idx, strict=True):
            hits = [
                Hit(self.ids[i], min(1.0, max(-1.0, float(s))), self.metadata[i])
                for s, i in zip(row_scores, row_idx, strict=True)
                if threshold is None or s >= threshold
            ]
            out.append(hits)
        return out


@dataclass
class IndexInfo:
    name: str
    dimensions: int
    size: int


class IndexStore:
    """All named indexes. A lock serialises changes: the executor may run two tasks."""

    def __init__(self) -> None:
        self._indexes: dict[str, VectorIndex] = {}
        self.lock = threading.Lock()

    def get(self, name: str) -> VectorIndex:
        index = self._indexes.get(name)
        if index is None:
            raise AnalyticsInputError(f"no index named {name!r}")
        return index

    def find(self, name: str) -> VectorIndex | None:
        return self._indexes.get(name)

    def put(self, index: VectorIndex) -> None:
        self._indexes[index.name] = index

    def total_vectors(self) -> int:
        return sum(i.size for i in self._indexes.values())

    def drop(self, name: str) -> bool:
        return self._indexes.pop(name, None) is not None

    def list(self) -> list[IndexInfo]:
        return [IndexInfo(i.name, i.dimensions, i.size) for i in self._indexes.values()]
