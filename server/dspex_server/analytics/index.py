"""Named in-memory vector indexes with exact top-k cosine search.

Vectors are L2-normalised once, on insert, and kept on the host as float32 (half the
memory of float64; scores agree with a float64 brute force to ~1e-6) in C-contiguous
chunks of at most `CHUNK_BYTES`: an insert fills the last chunk (grown by doubling up to
that size) and never copies the rest, and a NumPy query reads the chunks in place
(`topk.chunked_topk`: one pass, no copy of the matrix). Other namespaces get the matrix
as one array; a CuPy copy is kept until the index changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .backend import AnalyticsInputError, Array, Namespace, namespace_name, to_host
from .similarity import as_matrix, blocked_topk, check_dimensions, l2_normalize
from .topk import chunked_topk

CHUNK_BYTES = 1024 * 1024 * 1024  # 1M × 256 float32 in one chunk: one GEMV per query
NORMALISE_ROWS = 8192  # rows normalised at a time on insert (float64 temporaries stay small)


class AddStopped(Exception):
    """An add stopped (`stop` set) before any row was stored: the index is unchanged."""


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
    _chunks: list[Any] = field(default_factory=list)  # host float32; only the last has room
    _tail_used: int = 0  # rows filled in the last chunk
    _device: dict[str, Any] = field(default_factory=dict)  # namespace name → its copy

    @property
    def size(self) -> int:
        return len(self.ids)

    @classmethod
    def restore(
        cls, name: str, matrix: Any, ids: list[str], metadata: list[dict[str, Any] | None]
    ) -> VectorIndex:
        """An index from saved rows (`matrix`: host float32, already normalised)."""
        import numpy as np

        index = cls(name, int(matrix.shape[1]), list(ids), list(metadata))
        index._rows = {i: n for n, i in enumerate(ids)}
        if len(ids):
            index._chunks = [np.ascontiguousarray(matrix, dtype=np.float32)]
            index._tail_used = int(matrix.shape[0])
        return index

    def chunks(self) -> list[Any]:
        """The filled rows, chunk by chunk (views, no copy)."""
        if not self._chunks:
            return []
        return [*self._chunks[:-1], self._chunks[-1][: self._tail_used]]

    def matrix(self) -> Any:
        """The host (NumPy) matrix of all normalised vectors (a copy when the index holds
        more than one chunk)."""
        import numpy as np

        parts = self.chunks()
        if not parts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def _room(self, wanted: int) -> tuple[Any, int]:
        """(chunk, first free row) with room for at least one more row."""
        import numpy as np

        limit = max(1, CHUNK_BYTES // (4 * self.dimensions))
        tail = self._chunks[-1] if self._chunks else None
        if tail is not None and self._tail_used < int(tail.shape[0]):
            return tail, self._tail_used
        if tail is not None and int(tail.shape[0]) < limit:
            capacity = min(limit, max(2 * int(tail.shape[0]), self._tail_used + wanted))
            grown = np.empty((capacity, self.dimensions), dtype=np.float32)
            grown[: self._tail_used] = tail[: self._tail_used]
            self._chunks[-1] = grown
            return grown, self._tail_used
        chunk = np.empty((min(limit, max(wanted, 1)), self.dimensions), dtype=np.float32)
        self._chunks.append(chunk)
        self._tail_used = 0
        return chunk, 0

    def _append(
        self,
        xp: Namespace,
        m: Array,
        on_rows: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Normalise the rows of `m` (validated) into the chunks, a slice at a time. Every
        row is checked before any is stored; `stop` is honoured until then (AddStopped), and
        `on_rows` hears how many rows are normalised."""
        n = int(m.shape[0])
        normalised: list[Any] = []
        for start in range(0, n, NORMALISE_ROWS):
            if stop is not None and stop.is_set():
                raise AddStopped
            part = xp.astype(m[start : min(n, start + NORMALISE_ROWS), :], xp.float64)
            try:
                normalised.append(to_host(l2_normalize(xp, part, "vectors")).astype("float32"))
            except AnalyticsInputError as exc:
                if not start:
                    raise
                raise AnalyticsInputError(f"{exc}, counting from row {start}") from None
            if on_rows is not None:
                on_rows(min(n, start + NORMALISE_ROWS))
        if stop is not None and stop.is_set():
            raise AddStopped
        for part in normalised:
            done, rows = 0, int(part.shape[0])
            while done < rows:
                chunk, at = self._room(rows - done)
                take = min(rows - done, int(chunk.shape[0]) - at)
                chunk[at : at + take] = part[done : done + take]
                self._tail_used = at + take
                done += take

    def add(
        self,
        xp: Namespace,
        vectors: Any,
        ids: list[str],
        metadata: list[dict[str, Any] | None],
        on_rows: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        m = as_matrix(xp, vectors, "vectors")
        check_dimensions(self.dimensions, int(m.shape[1]), f"index {self.name!r}")
        if len(ids) != int(m.shape[0]):
            raise AnalyticsInputError("ids: one id per vector required")
        if len(set(ids)) != len(ids):
            raise AnalyticsInputError("ids: duplicates in one request")
        clash = next((i for i in ids if i in self._rows), None)
        if clash is not None:
            raise AnalyticsInputError(f"index {self.name!r} already holds id {clash!r}")
        self._append(xp, m, on_rows, stop)
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
        qn = xp.astype(l2_normalize(xp, xp.astype(q, xp.float64), "query vectors"), xp.float32)
        if namespace_name(xp) == "numpy":
            import numpy as np

            scores, idx = chunked_topk(np.ascontiguousarray(qn), self.chunks(), k)
        else:
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
