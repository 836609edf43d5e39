"""Cosine similarity and exact top-k search on NumPy and array_api_strict, checked
against a float64 NumPy brute force, up to 100k vectors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from analytics_support import NAMESPACES, host, load_namespace

from dspex_server.analytics.backend import AnalyticsInputError
from dspex_server.analytics.index import IndexStore, VectorIndex
from dspex_server.analytics.similarity import (
    blocked_topk,
    cosine_matrix,
    l2_normalize,
    topk_indices,
)

RNG = np.random.default_rng(7)


@pytest.fixture(params=NAMESPACES)
def xp(request: pytest.FixtureRequest) -> Any:
    return load_namespace(request.param)


def unit(m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_cosine_matrix_matches_numpy(xp: Any) -> None:
    a = RNG.standard_normal((9, 17))
    got = host(cosine_matrix(xp, xp.asarray(a)))
    np.testing.assert_allclose(got, unit(a) @ unit(a).T, atol=1e-12)
    np.testing.assert_allclose(np.diag(got), 1.0)
    b = RNG.standard_normal((4, 17))
    np.testing.assert_allclose(
        host(cosine_matrix(xp, xp.asarray(a), xp.asarray(b))), unit(a) @ unit(b).T, atol=1e-12
    )


def test_cosine_is_scale_invariant(xp: Any) -> None:
    v = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [-1.0, -2.0, -3.0]])
    got = host(cosine_matrix(xp, xp.asarray(v)))
    np.testing.assert_allclose(got[0], [1.0, 1.0, -1.0], atol=1e-12)


def test_dimension_mismatch_is_a_clear_error(xp: Any) -> None:
    with pytest.raises(AnalyticsInputError, match="dimension 3 does not match 2"):
        cosine_matrix(xp, xp.asarray([[1.0, 0.0]]), xp.asarray([[1.0, 0.0, 0.0]]))


def test_zero_vector_has_no_direction(xp: Any) -> None:
    with pytest.raises(AnalyticsInputError, match="vector 1 has zero length"):
        l2_normalize(xp, xp.asarray([[1.0, 0.0], [0.0, 0.0]]))


def test_topk_indices_are_the_largest_best_first(xp: Any) -> None:
    scores = RNG.standard_normal((3, 50))
    got = host(topk_indices(xp, xp.asarray(scores), 5))
    np.testing.assert_array_equal(got, np.argsort(-scores, axis=1)[:, :5])


@pytest.mark.parametrize("block_elements", [64, 4_000_000])
def test_blocked_topk_equals_brute_force_whatever_the_block(xp: Any, block_elements: int) -> None:
    base, queries = unit(RNG.standard_normal((1000, 8))), unit(RNG.standard_normal((3, 8)))
    scores, idx = blocked_topk(xp, xp.asarray(queries), xp.asarray(base), 7, block_elements)
    ref = queries @ base.T
    order = np.argsort(-ref, axis=1)[:, :7]
    np.testing.assert_array_equal(host(idx), order)
    np.testing.assert_allclose(host(scores), np.take_along_axis(ref, order, axis=1), atol=1e-12)


def test_index_top_k_over_100k_vectors_is_exact(xp: Any) -> None:
    vectors = RNG.standard_normal((100_000, 64))
    queries = RNG.standard_normal((4, 64))
    index = VectorIndex("big", 64)
    index.add(xp, xp.asarray(vectors), [f"v{i}" for i in range(100_000)], [None] * 100_000)
    hits = index.query(xp, xp.asarray(queries), 10, None)
    brute = unit(queries) @ unit(vectors).T  # float64 reference
    expected = np.argsort(-brute, axis=1)[:, :10]
    for q in range(4):
        assert [h.id for h in hits[q]] == [f"v{i}" for i in expected[q]]
        np.testing.assert_allclose([h.score for h in hits[q]], brute[q, expected[q]], atol=1e-6)


def test_index_threshold_filters_and_k_caps(xp: Any) -> None:
    index = VectorIndex("t", 2)
    index.add(
        xp,
        xp.asarray([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0]]),
        ["x", "diag", "y", "-x"],
        [{"n": 0}, None, None, None],
    )
    (hits,) = index.query(xp, xp.asarray([[2.0, 0.0]]), 10, 0.5)
    assert [h.id for h in hits] == ["x", "diag"]
    assert hits[0].metadata == {"n": 0}
    assert hits[1].score == pytest.approx(np.sqrt(0.5), abs=1e-6)
    (top1,) = index.query(xp, xp.asarray([[0.0, 3.0]]), 1, None)
    assert [h.id for h in top1] == ["y"]


def test_index_refuses_duplicate_ids_and_other_dimensions(xp: Any) -> None:
    index = VectorIndex("d", 2)
    index.add(xp, xp.asarray([[1.0, 0.0]]), ["a"], [None])
    with pytest.raises(AnalyticsInputError, match="already holds id 'a'"):
        index.add(xp, xp.asarray([[0.0, 1.0]]), ["a"], [None])
    with pytest.raises(AnalyticsInputError, match="dimension 3 does not match 2"):
        index.add(xp, xp.asarray([[0.0, 1.0, 0.0]]), ["b"], [None])
    with pytest.raises(AnalyticsInputError, match="dimension 3 does not match 2"):
        index.query(xp, xp.asarray([[0.0, 1.0, 0.0]]), 1, None)
    assert index.size == 1


def test_ragged_vectors_are_refused(xp: Any) -> None:
    index = VectorIndex("r", 2)
    with pytest.raises(AnalyticsInputError, match="unequal dimensions"):
        index.add(xp, [[1.0, 0.0], [1.0]], ["a", "b"], [None, None])


def test_index_store_lists_and_drops() -> None:
    store = IndexStore()
    store.put(VectorIndex("a", 3))
    assert [(i.name, i.dimensions, i.size) for i in store.list()] == [("a", 3, 0)]
    assert store.drop("a") and not store.drop("a")
    with pytest.raises(AnalyticsInputError, match="no index named 'a'"):
        store.get("a")
