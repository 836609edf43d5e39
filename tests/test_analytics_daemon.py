"""Analytics through the real daemon: performance, compare, similarity, vector indexes."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from daemon import Daemon, start_daemon
from pygls.exceptions import JsonRpcException
from scipy import stats

RNG = np.random.default_rng(11)


def unit(m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_daemon_start_up_does_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from dspex_server.rpc import build_server\n"
        "server, _ = build_server()\n"
        "print(json.dumps([m for m in ('numpy', 'scipy', 'cupy', 'array_api_compat') "
        "if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


async def test_methods_are_advertised(daemon: Daemon) -> None:
    methods = daemon.initialize_result.capabilities.experimental["dspex"]["methods"]
    for name in ("performance", "compare", "health", "similarity"):
        assert f"dspex/analytics/{name}" in methods
    for name in ("add", "query", "drop", "list"):
        assert f"dspex/index/{name}" in methods


async def test_performance_of_explicit_samples_matches_numpy(daemon: Daemon) -> None:
    x = RNG.gamma(2.0, 30.0, 250)
    r = await daemon.request("dspex/analytics/performance", {"samples": x.tolist()})
    assert r["source"] == "samples" and r["backend"] == "numpy" and r["count"] == 250
    assert r["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert r["std"] == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert [r["p50"], r["p95"], r["p99"]] == pytest.approx(np.percentile(x, [50, 95, 99]))
    assert r["stabilityScore"] == pytest.approx(1 / (1 + x.std(ddof=1) / x.mean()))
    assert (r["min"], r["max"]) == (x.min(), x.max())


async def test_performance_of_no_samples_has_only_a_count(daemon: Daemon) -> None:
    r = await daemon.request("dspex/analytics/performance", {"samples": []})
    assert r["count"] == 0 and "mean" not in r and "p99" not in r


async def test_nan_samples_are_invalid_params(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/performance", {"samples": [1.0, float("nan")]})
    assert err.value.code == -32602
    assert err.value.data["errors"][0]["loc"] == ["samples", 1]
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/performance", {"samples": [1.0, -1.0]})
    assert err.value.code == -32602 and "negative" in err.value.data["errors"][0]["msg"]


async def test_performance_of_a_provider_window_after_chats(daemon: Daemon) -> None:
    for i in range(5):
        await daemon.request(
            "dspex/chat", {"provider": "mock", "messages": [{"role": "user", "content": f"m{i}"}]}
        )
    r = await daemon.request("dspex/analytics/performance", {"provider": "mock"})
    assert r["source"] == "window" and r["count"] == 5 and r["requests"] == 5
    assert r["successRate"] == 1.0 and r["mean"] > 0 and r["throughputTokensPerS"] > 0
    model = await daemon.request(
        "dspex/analytics/performance", {"provider": "mock", "model": "mock-1"}
    )
    assert model["count"] == 5
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/performance", {"provider": "nope"})
    assert err.value.data["kind"] == "unsupported_provider"


async def test_compare_matches_scipy_and_recommends(daemon: Daemon) -> None:
    a, b = RNG.normal(120.0, 20.0, 40), RNG.normal(100.0, 20.0, 35)
    r = await daemon.request(
        "dspex/analytics/compare",
        {
            "samples": {
                "a": {"latencies": a.tolist(), "successes": 38, "requests": 40},
                "b": {"latencies": b.tolist(), "successes": 35, "requests": 35},
            },
            "seed": 3,
        },
    )
    (pair,) = r["pairs"]
    welch = stats.ttest_ind(a, b, equal_var=False)
    mwu = stats.mannwhitneyu(a, b, method="asymptotic")
    lat = pair["latency"]
    assert lat["welch"]["t"] == pytest.approx(welch.statistic, rel=1e-12)
    assert lat["welch"]["df"] == pytest.approx(welch.df, rel=1e-12)
    assert lat["welch"]["pValue"] == pytest.approx(welch.pvalue, rel=1e-9)
    assert lat["mannWhitney"]["u"] == mwu.statistic
    assert lat["mannWhitney"]["pValue"] == pytest.approx(mwu.pvalue, rel=1e-9)
    ci = lat["bootstrapCi"]
    assert ci["level"] == 0.95 and ci["low"] < a.mean() - b.mean() < ci["high"]
    assert lat["verdict"] == "b_better"
    assert pair["success"]["test"]["rateA"] == 0.95
    assert pair["cost"]["verdict"] == "insufficient_data"
    assert [x["name"] for x in r["rankings"]] == ["b", "a"]
    assert r["recommendation"] == "b" and r["confident"] is True
    assert (r["minSamples"], r["confidenceThreshold"]) == (20, 0.8)


async def test_compare_below_min_samples_is_insufficient_data(daemon: Daemon) -> None:
    r = await daemon.request(
        "dspex/analytics/compare",
        {"samples": {"a": {"latencies": [1.0] * 19}, "b": {"latencies": [2.0] * 30}}},
    )
    assert r["pairs"][0]["latency"]["verdict"] == "insufficient_data"
    assert "recommendation" not in r and r["reason"].startswith("insufficient data")
    stored = await daemon.request(
        "dspex/analytics/compare", {"targets": [{"provider": "mock"}, {"provider": "openai"}]}
    )
    assert stored["pairs"][0]["latency"]["verdict"] == "insufficient_data"


async def test_similarity_of_texts_and_vectors(daemon: Daemon) -> None:
    r = await daemon.request(
        "dspex/analytics/similarity",
        {
            "texts": ["the cat sat on the mat", "The cat sat on the mat!", "stock prices fell"],
            "provider": "mock",  # the mock's bag-of-words vectors: 64 dims, case-blind
        },
    )
    m = np.array(r["matrix"])
    assert m.shape == (3, 3) and r["dimensions"] == 64 and r["threshold"] == 0.7
    np.testing.assert_allclose(np.diag(m), 1.0)
    assert m[0, 1] == pytest.approx(1.0) and m[0, 2] < 0.7
    assert r["pairs"] == [{"i": 0, "j": 1, "score": pytest.approx(1.0)}]
    v = RNG.standard_normal((5, 7))
    r = await daemon.request("dspex/analytics/similarity", {"vectors": v.tolist(), "threshold": -1})
    np.testing.assert_allclose(np.array(r["matrix"]), unit(v) @ unit(v).T, atol=1e-12)
    assert len(r["pairs"]) == 10


async def test_similarity_refuses_unequal_dimensions_clearly(daemon: Daemon) -> None:
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/similarity", {"vectors": [[1.0, 0.0], [1.0]]})
    assert err.value.code == -32602 and "unequal dimensions" in str(err.value.data)
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/analytics/similarity", {"texts": ["a"], "vectors": [[1.0]]})
    assert err.value.code == -32602


async def test_index_add_query_list_drop_with_texts(daemon: Daemon) -> None:
    docs = ["red apples and green pears", "fast cars on the road", "green pears are sweet"]
    added = await daemon.request(
        "dspex/index/add",
        {"name": "docs", "texts": docs, "ids": ["fruit", "cars", "pears"], "provider": "mock"},
    )
    assert added == {"name": "docs", "added": 3, "size": 3, "dimensions": 64}
    r = await daemon.request(
        "dspex/index/query",
        {"name": "docs", "texts": ["sweet green pears"], "k": 2, "provider": "mock"},
    )
    (hits,) = r["results"]
    assert hits[0]["id"] == "pears" and hits[0]["metadata"] == {"text": docs[2]}
    assert len(hits) == 2 and hits[0]["score"] >= hits[1]["score"]
    listed = await daemon.request("dspex/index/list", {})
    assert listed == {"indexes": [{"name": "docs", "dimensions": 64, "size": 3}]}
    assert (await daemon.request("dspex/index/drop", {"name": "docs"}))["dropped"] is True
    assert (await daemon.request("dspex/index/drop", {"name": "docs"}))["dropped"] is False
    with pytest.raises(JsonRpcException) as err:
        await daemon.request("dspex/index/query", {"name": "docs", "texts": ["x"]})
    assert (
        err.value.code == -32602 and "no index named 'docs'" in err.value.data["errors"][0]["msg"]
    )


async def test_index_of_100k_vectors_answers_exact_top_k(daemon: Daemon) -> None:
    dims, n = 16, 100_000
    base = RNG.standard_normal((n, dims))
    for start in range(0, n, 25_000):
        chunk = base[start : start + 25_000]
        r = await daemon.request(
            "dspex/index/add",
            {
                "name": "big",
                "vectors": chunk.tolist(),
                "ids": [str(i) for i in range(start, start + len(chunk))],
            },
        )
    assert r["size"] == n
    queries = RNG.standard_normal((3, dims))
    r = await daemon.request(
        "dspex/index/query", {"name": "big", "vectors": queries.tolist(), "k": 20}
    )
    brute = unit(queries) @ unit(base).T
    for q, hits in enumerate(r["results"]):
        expected = np.argsort(-brute[q])[:20]
        assert [int(h["id"]) for h in hits] == expected.tolist()
        np.testing.assert_allclose([h["score"] for h in hits], brute[q, expected], atol=1e-6)
    threshold = float(np.sort(brute[0])[-5])
    r = await daemon.request(
        "dspex/index/query",
        {"name": "big", "vectors": queries[:1].tolist(), "k": 20, "threshold": threshold - 1e-6},
    )
    assert len(r["results"][0]) == 5


async def test_backend_cupy_without_a_gpu_is_a_clear_error(env: dict[str, str]) -> None:
    async with start_daemon(env, initialization_options={"analytics": {"backend": "cupy"}}) as d:
        with pytest.raises(JsonRpcException) as err:
            await d.request("dspex/analytics/performance", {"samples": [1.0]})
    assert err.value.code == -32602 and "CuPy" in str(err.value.data)


async def test_compare_of_stored_windows_by_model(daemon: Daemon) -> None:
    for model in ("mock-1", "mock-2"):
        for i in range(6):
            await daemon.request(
                "dspex/chat",
                {
                    "provider": "mock",
                    "model": model,
                    "messages": [{"role": "user", "content": f"{i}"}],
                },
            )
    r = await daemon.request(
        "dspex/analytics/compare",
        {
            "targets": [
                {"provider": "mock", "model": "mock-1"},
                {"provider": "mock", "model": "mock-2"},
            ],
            "minSamples": 5,
            "resamples": 200,
        },
    )
    (pair,) = r["pairs"]
    assert (pair["a"], pair["b"]) == ("mock/mock-1", "mock/mock-2")
    assert pair["latency"]["verdict"] != "insufficient_data"
    assert pair["latency"]["welch"]["pValue"] >= 0 and "bootstrapCi" in pair["latency"]
    assert pair["success"]["test"] == {"rateA": 1.0, "rateB": 1.0, "z": 0.0, "pValue": 1.0}
    assert {x["name"] for x in r["rankings"]} == {"mock/mock-1", "mock/mock-2"}
    assert r["minSamples"] == 5 and r["recommendation"] in ("mock/mock-1", "mock/mock-2")
