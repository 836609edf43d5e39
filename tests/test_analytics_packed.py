"""Packed vectors (base64 little-endian float32) on the wire, and the lean NumPy query path:
the codec, strict validation, the daemon end to end, and the chunked top-k search."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import numpy as np
import pytest
from daemon import Daemon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError
from pygls.exceptions import JsonRpcException

from dspex_client import DspexClient
from dspex_protocol import IndexAddParams, PackedVectors, PerformanceParams
from dspex_protocol.analytics import PackedValues
from dspex_server.analytics import index as index_module
from dspex_server.analytics.backend import AnalyticsInputError, _numpy_namespace
from dspex_server.analytics.index import VectorIndex
from dspex_server.analytics.packed import decode_packed, decode_values
from dspex_server.analytics.topk import chunked_topk

RNG = np.random.default_rng(5)
SERVER = [sys.executable, "-m", "dspex_server"]


def unit(m: Any) -> Any:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def wire(m: Any) -> dict[str, Any]:
    """What a client without dspex_protocol sends."""
    data = base64.b64encode(np.asarray(m, dtype="<f4").tobytes()).decode()
    return {"rows": int(m.shape[0]), "dimensions": int(m.shape[1]), "data": data}


# -- the codec -----------------------------------------------------------------------------

finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=12), elements=finite_f32
    )
)
def test_pack_then_decode_gives_the_same_bits(m: Any) -> None:
    packed = PackedVectors.pack(m)
    again = PackedVectors.model_validate(json.loads(json.dumps(packed.to_wire())))
    out = decode_packed(again)
    assert out.shape == m.shape and out.dtype == np.float32
    assert out.tobytes() == m.astype("<f4").tobytes()  # bit for bit, -0.0 and subnormals too
    assert len(packed.data) == 4 * -(-m.size * 4 // 3)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda d: st.lists(st.lists(finite_f32, min_size=d, max_size=d), min_size=1, max_size=6)
    )
)
def test_pack_of_lists_matches_pack_of_arrays(rows: list[list[float]]) -> None:
    assert PackedVectors.pack(rows).data == PackedVectors.pack(np.array(rows, np.float32)).data


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(-9, 9).filter(lambda x: x != 0))
def test_a_wrong_length_is_refused_by_the_model(rows: int, dims: int, extra: int) -> None:
    nbytes = max(0, rows * dims * 4 + extra)
    data = base64.b64encode(b"\x00" * nbytes).decode()
    with pytest.raises(ValidationError, match=r"expected|multiple of 4"):
        PackedVectors(rows=rows, dimensions=dims, data=data)


def test_bad_base64_nan_and_infinity_are_refused_with_the_position() -> None:
    bad = PackedVectors(rows=1, dimensions=3, data="AAAAAAAAAAAAAA!A")
    with pytest.raises(AnalyticsInputError, match="not valid base64"):
        decode_packed(bad)
    m = np.zeros((3, 4), np.float32)
    m[2, 1] = np.nan
    with pytest.raises(AnalyticsInputError, match="row 2, column 1 is NaN or infinite"):
        decode_packed(PackedVectors.pack(m))
    m[2, 1], m[0, 3] = 0, -np.inf
    with pytest.raises(AnalyticsInputError, match="row 0, column 3"):
        decode_packed(PackedVectors.pack(m))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_packed_values_keep_float64_exactly(values: list[float]) -> None:
    packed = PackedValues.model_validate(PackedValues.pack(values).to_wire())
    assert packed.count == len(values) and packed.dtype == "float64"
    assert decode_values(packed).tolist() == values
    as32 = PackedVectors.pack(np.array([values or [0.0]]), dtype="float64")
    assert decode_packed(as32).dtype == np.float64


def test_packed_values_refuse_nan_and_a_wrong_count() -> None:
    with pytest.raises(AnalyticsInputError, match="index 2 is NaN or infinite"):
        decode_values(PackedValues.pack([1.0, 2.0, float("nan")]))
    good = PackedValues.pack([1.0, 2.0]).to_wire()
    with pytest.raises(ValidationError, match="count = 3 × 8 = 24 expected"):
        PackedValues.model_validate(good | {"count": 3})
    with pytest.raises(ValidationError, match="not both"):
        PerformanceParams.model_validate({"samples": [1.0], "packedSamples": good})


def test_exactly_one_source_of_vectors() -> None:
    packed = wire(np.ones((1, 2)))
    with pytest.raises(ValidationError, match="exactly one of texts, vectors or packedVectors"):
        IndexAddParams.model_validate(
            {"name": "a", "vectors": [[1.0, 2.0]], "packedVectors": packed}
        )
    assert IndexAddParams.model_validate({"name": "a", "packedVectors": packed}).count == 1


# -- the search ----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 5),  # queries
    st.lists(st.integers(1, 300), min_size=1, max_size=5),  # chunk sizes
    st.integers(1, 25),  # k
    st.sampled_from([64, 1000, 4_000_000]),  # block elements
    st.integers(0, 2**31),
)
def test_chunked_topk_equals_brute_force(
    q: int, sizes: list[int], k: int, block: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    base = unit(rng.standard_normal((sum(sizes), 8))).astype(np.float32)
    queries = unit(rng.standard_normal((q, 8))).astype(np.float32)
    chunks, at = [], 0
    for n in sizes:
        chunks.append(base[at : at + n])
        at += n
    scores, idx = chunked_topk(queries, chunks, k, block)
    brute = queries @ base.T
    kk = min(k, len(base))
    expected = -np.sort(-brute, axis=1)[:, :kk]
    assert idx.shape == (q, kk)
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(brute, idx, 1), expected, atol=1e-6)
    assert all(len(set(row)) == kk for row in idx.tolist())


def test_many_small_adds_fill_chunks_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "CHUNK_BYTES", 4 * 8 * 50)  # 50 rows of 8 per chunk
    xp = _numpy_namespace()
    index = VectorIndex("s", 8)
    base = RNG.standard_normal((333, 8))
    at = 0
    for n in (1, 2, 7, 40, 3, 100, 1, 179):
        index.add(xp, base[at : at + n], [str(i) for i in range(at, at + n)], [None] * n)
        at += n
    assert [int(c.shape[0]) for c in index.chunks()] == [50] * 6 + [33]
    np.testing.assert_allclose(index.matrix(), unit(base), atol=1e-6)
    queries = RNG.standard_normal((4, 8))
    hits = index.query(xp, queries, 10, None)
    brute = unit(queries) @ unit(base).T
    for row, found in zip(brute, hits, strict=True):
        assert [int(h.id) for h in found] == np.argsort(-row)[:10].tolist()


def test_a_zero_vector_past_the_first_slice_names_its_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "NORMALISE_ROWS", 4)
    index = VectorIndex("z", 2)
    m = np.ones((10, 2))
    m[6] = 0
    with pytest.raises(AnalyticsInputError, match=r"zero length.*counting from row 4"):
        index.add(_numpy_namespace(), m, [str(i) for i in range(10)], [None] * 10)
    assert index.size == 0 and index.chunks() == []


# -- through the daemon --------------------------------------------------------------------


async def test_packed_add_and_query_equal_json_lists(daemon: Daemon) -> None:
    base = RNG.standard_normal((3000, 24)).astype(np.float32)
    for start in range(0, 3000, 1000):
        r = await daemon.request(
            "dspex/index/add", {"name": "p", "packedVectors": wire(base[start : start + 1000])}
        )
    assert r == {"name": "p", "added": 1000, "size": 3000, "dimensions": 24}
    queries = RNG.standard_normal((5, 24)).astype(np.float32)
    packed = await daemon.request(
        "dspex/index/query", {"name": "p", "packedVectors": wire(queries), "k": 7}
    )
    listed = await daemon.request(
        "dspex/index/query", {"name": "p", "vectors": queries.tolist(), "k": 7}
    )
    assert packed == listed
    brute = unit(queries.astype(np.float64)) @ unit(base.astype(np.float64)).T
    for q, hits in enumerate(packed["results"]):
        assert [int(h["id"]) for h in hits] == np.argsort(-brute[q])[:7].tolist()
        np.testing.assert_allclose(
            [h["score"] for h in hits], np.sort(brute[q])[::-1][:7], atol=1e-6
        )
    sims = await daemon.request("dspex/analytics/similarity", {"packedVectors": wire(queries)})
    np.testing.assert_allclose(sims["matrix"], unit(queries) @ unit(queries).T, atol=1e-6)


async def test_performance_of_packed_samples_equals_json(daemon: Daemon) -> None:
    x = RNG.gamma(2.0, 30.0, 5000)
    packed = await daemon.request(
        "dspex/analytics/performance", {"packedSamples": PackedValues.pack(x).to_wire()}
    )
    listed = await daemon.request("dspex/analytics/performance", {"samples": x.tolist()})
    assert packed == listed and packed["count"] == 5000
    bad = PackedValues.pack([1.0, float("inf")]).to_wire()
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/performance", {"packedSamples": bad})
    assert "packedSamples: value at index 1 is NaN or infinite" in _invalid(err)


def _invalid(err: pytest.ExceptionInfo[JsonRpcException]) -> str:
    assert err.value.code == -32602
    return json.dumps(err.value.data, ensure_ascii=False)


async def test_bad_packed_vectors_are_invalid_params(daemon: Daemon) -> None:
    await daemon.request("dspex/index/add", {"name": "v", "packedVectors": wire(np.ones((2, 4)))})
    short = wire(np.ones((2, 4))) | {"rows": 3}
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/index/add", {"name": "v", "packedVectors": short})
    assert "data holds 32 bytes; rows × dimensions = 3 × 4 × 4 = 48 expected" in _invalid(err)
    nan = np.ones((2, 4), np.float32)
    nan[1, 2] = np.nan
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/index/add", {"name": "v", "packedVectors": wire(nan)})
    assert "row 1, column 2 is NaN or infinite" in _invalid(err)
    with pytest.raises(JsonRpcException) as err:
        await daemon.request(
            "dspex/index/query", {"name": "v", "packedVectors": wire(np.ones((1, 3)))}
        )
    assert "dimension 3 does not match 4" in _invalid(err)
    with pytest.raises(JsonRpcException) as err:
        await daemon.request(
            "dspex/index/add",
            {"name": "v", "packedVectors": wire(np.ones((1, 4))) | {"data": "*" * 22 + "=="}},
        )
    assert "not valid base64" in _invalid(err)
    listed = await daemon.request("dspex/index/list", {})
    assert listed["indexes"] == [{"name": "v", "dimensions": 4, "size": 2}]


async def test_the_client_packs_arrays(env: dict[str, str]) -> None:
    base = RNG.standard_normal((50, 6)).astype(np.float32)
    async with await DspexClient.spawn(SERVER, env=env) as client:
        added = await client.index_add(name="c", vectors=base)
        assert added.size == 50 and added.dimensions == 6
        result = await client.index_query(name="c", vectors=base[7:9], k=3)
        listed = await client.index_query(name="c", vectors=base[7:9].tolist(), k=3)
    assert result.results[0][0].id == "7" and result.results[1][0].id == "8"
    assert result == listed
