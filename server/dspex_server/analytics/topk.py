"""Exact top-k inner-product search on the host (NumPy), tuned for memory bandwidth.

The index's rows are L2-normalised float32 kept in contiguous chunks. A search makes one
pass over them: each block's scores come from one matrix product (a GEMV for one query,
a GEMM for a batch) and stay small (at most `BLOCK_ELEMENTS` floats), and selection is
filtered by the running k-th best score of each query, so after the first block almost
nothing but the product itself touches the scores. The portable path (any array-API
namespace, e.g. CuPy) is `similarity.blocked_topk`; both return the same answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .similarity import BLOCK_ELEMENTS

FIRST_COLUMNS = 4096  # the first scores' top k set each query's running k-th best
GROUP = 128  # scores per group max when filtering a block


def _merge(
    best_s: Any, best_i: Any, rows: Any, cand_s: Any, cand_i: Any, k: int
) -> tuple[Any, Any]:
    """Fold candidates (`rows[j]` is the query of `cand_s[j]`, `cand_i[j]`; `rows` sorted)
    into the running best (q × k), vectorised: candidates are laid out after each row's
    current best in a padded matrix and the k largest of every row kept."""
    import numpy as np

    q = best_s.shape[0]
    counts = np.bincount(rows, minlength=q)
    width = int(counts.max())
    starts = np.cumsum(counts) - counts
    pos = np.arange(rows.size) - np.repeat(starts, counts) + k
    pad_s = np.full((q, k + width), -np.inf, dtype=np.float32)
    pad_i = np.full((q, k + width), -1, dtype=np.int64)
    pad_s[:, :k] = best_s
    pad_i[:, :k] = best_i
    pad_s[rows, pos] = cand_s
    pad_i[rows, pos] = cand_i
    keep = np.argpartition(pad_s, width, axis=1)[:, width:]
    return np.take_along_axis(pad_s, keep, 1), np.take_along_axis(pad_i, keep, 1)


def _above(scores: Any, thr: Any, offset: int) -> Iterator[tuple[Any, Any, Any]]:
    """(query, score, row) of every score above its query's threshold, in query order.
    The scores are read once more in groups of `GROUP` (a max per group); only groups
    whose max passes are looked at element by element."""
    import numpy as np

    q, m = int(scores.shape[0]), int(scores.shape[1])
    whole = m - m % GROUP
    if whole:
        grouped = scores[:, :whole].reshape(q, whole // GROUP, GROUP)
        r, g = np.nonzero(grouped.max(axis=2) > thr[:, None])
        if r.size:
            cand = grouped[r, g]
            rr, cc = np.nonzero(cand > thr[r, None])
            yield r[rr], cand[rr, cc], g[rr] * GROUP + cc + offset
    if whole < m:
        tail = scores[:, whole:]
        r, c = np.nonzero(tail > thr[:, None])
        if r.size:
            yield r, tail[r, c], c + whole + offset


def _blocks(chunks: Sequence[Any], step: int) -> Iterator[tuple[Any, int]]:
    """(block, row offset) over the chunks, `step` rows at a time."""
    offset = 0
    for chunk in chunks:
        rows = int(chunk.shape[0])
        for start in range(0, rows, step):
            yield chunk[start : start + step], offset + start
        offset += rows


def chunked_topk(
    queries: Any, chunks: Sequence[Any], k: int, block_elements: int = BLOCK_ELEMENTS
) -> tuple[Any, Any]:
    """Exact top-k of `queries @ base.T` where `base` is the row-wise concatenation of
    `chunks` (all float32, C-contiguous, normalised; `queries` likewise, q × d).
    Returns (scores, indices), each q × min(k, n), best first."""
    import numpy as np

    q = int(queries.shape[0])
    n = sum(int(c.shape[0]) for c in chunks)
    k = min(k, n)
    best_s = np.full((q, k), -np.inf, dtype=np.float32)
    best_i = np.full((q, k), -1, dtype=np.int64)
    if k == 0:
        return best_s, best_i
    thr = np.full(q, -np.inf, dtype=np.float32)
    step = max(k, block_elements // max(q, 1))
    vector = queries[0] if q == 1 else None
    for block, offset in _blocks(chunks, step):
        # One BLAS call per block (fewer calls: fewer waits for a descheduled BLAS thread);
        # one query is a matrix-vector product (GEMV), one pass over the block.
        scores = (block @ vector)[None, :] if vector is not None else queries @ block.T
        m, done = int(scores.shape[1]), 0
        if not np.isfinite(thr).all():
            # Nothing to filter by yet: the top k of the block's first columns set it.
            done = min(m, max(k, FIRST_COLUMNS))
            take = min(k, done)
            part = np.argpartition(scores[:, :done], -take, axis=1)[:, -take:]
            rows = np.repeat(np.arange(q), take)
            cand_s = np.take_along_axis(scores, part, 1).ravel()
            best_s, best_i = _merge(best_s, best_i, rows, cand_s, part.ravel() + offset, k)
            thr = best_s.min(axis=1)
        if done < m:  # thr is finite here: `done` >= k columns were seen
            for rows, cand_s, cand_i in _above(scores[:, done:], thr, offset + done):
                best_s, best_i = _merge(best_s, best_i, rows, cand_s, cand_i, k)
            thr = best_s.min(axis=1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
