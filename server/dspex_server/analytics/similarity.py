"""Cosine similarity with L2 normalisation, and exact blocked top-k search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .backend import AnalyticsInputError, Array, Namespace

# Scores of one block of a top-k search stay under this many elements (×4 or ×8 bytes),
# however many vectors an index holds.
BLOCK_ELEMENTS = 4_000_000


def as_matrix(xp: Namespace, vectors: Sequence[Sequence[float]] | Array, what: str) -> Array:
    """A 2-D float array; ragged rows, empty vectors, NaN or infinities are refused."""
    if isinstance(vectors, Sequence):
        if len(vectors) == 0:
            raise AnalyticsInputError(f"{what}: no vectors")
        dims = {len(v) for v in vectors}
        if len(dims) != 1:
            raise AnalyticsInputError(
                f"{what}: vectors of unequal dimensions {sorted(dims)[:5]}; all must match"
            )
    m = xp.asarray(vectors, dtype=xp.float64) if isinstance(vectors, Sequence) else vectors
    if m.ndim != 2 or m.shape[1] == 0:
        raise AnalyticsInputError(f"{what}: expected a non-empty list of non-empty vectors")
    if not bool(xp.all(xp.isfinite(m))):
        raise AnalyticsInputError(f"{what}: vectors contain NaN or infinite values")
    return m


def l2_normalize(xp: Namespace, m: Array, what: str = "vectors") -> Array:
    """Rows scaled to unit length. A zero row has no direction: refused."""
    norms = xp.sqrt(xp.sum(m * m, axis=1, keepdims=True))
    if bool(xp.any(norms == 0.0)):
        index = int(xp.argmax(xp.astype(norms[:, 0] == 0.0, xp.int8)))
        raise AnalyticsInputError(f"{what}: vector {index} has zero length (no direction)")
    return m / norms


def check_dimensions(expected: int, got: int, what: str) -> None:
    if expected != got:
        raise AnalyticsInputError(f"{what}: dimension {got} does not match {expected}")


def cosine_matrix(xp: Namespace, a: Array, b: Array | None = None) -> Array:
    """Pairwise cosine similarity of the rows of `a` (with themselves, or with `b`)."""
    na = l2_normalize(xp, a, "vectors")
    nb = na if b is None else l2_normalize(xp, b, "other vectors")
    if b is not None:
        check_dimensions(int(a.shape[1]), int(b.shape[1]), "other vectors")
    return xp.clip(na @ xp.matrix_transpose(nb), -1.0, 1.0)


def _is_numpy(xp: Namespace) -> bool:
    import array_api_compat

    return bool(array_api_compat.is_numpy_namespace(xp))


def topk_indices(xp: Namespace, scores: Array, k: int) -> Array:
    """Column indices of the k largest scores of each row, best first. NumPy takes
    `argpartition` (O(n)) and sorts only the k; the portable path sorts the row."""
    n = int(scores.shape[1])
    k = min(k, n)
    if _is_numpy(xp) and k < n:
        import numpy as np

        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        picked = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        out: Any = np.take_along_axis(part, order, axis=1)
        return out
    order = xp.argsort(scores, axis=1, descending=True, stable=True)
    return order[:, :k]


def blocked_topk(
    xp: Namespace,
    queries: Array,
    base: Array,
    k: int,
    block_elements: int = BLOCK_ELEMENTS,
) -> tuple[Array, Array]:
    """Exact top-k of `queries @ base.T` (both already normalised), without building the
    full score matrix: the base is scanned in blocks; each block's top-k is merged with
    the best so far. Returns (scores, indices), each (queries × min(k, n)), best first."""
    q, n = int(queries.shape[0]), int(base.shape[0])
    k = min(k, n)
    block = max(k, block_elements // max(q, 1))
    best_scores: Array | None = None
    best_idx: Array | None = None
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = queries @ xp.matrix_transpose(base[start:stop, :])
        local = topk_indices(xp, scores, k)
        local_scores = xp.take_along_axis(scores, local, axis=1)
        local_idx = xp.astype(local, xp.int64) + start
        if best_scores is None or best_idx is None:
            best_scores, best_idx = local_scores, local_idx
            continue
        cand_scores = xp.concat((best_scores, local_scores), axis=1)
        cand_idx = xp.concat((best_idx, local_idx), axis=1)
        keep = topk_indices(xp, cand_scores, k)
        best_scores = xp.take_along_axis(cand_scores, keep, axis=1)
        best_idx = xp.take_along_axis(cand_idx, keep, axis=1)
    assert best_scores is not None and best_idx is not None
    return best_scores, best_idx
