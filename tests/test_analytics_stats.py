"""Statistics and significance tests on NumPy and on array_api_strict, checked against
NumPy reference computations and scipy.stats."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from analytics_support import NAMESPACES, host, load_namespace
from scipy import special, stats

from dspex_server.analytics import distributions as dist
from dspex_server.analytics.backend import AnalyticsInputError, namespace
from dspex_server.analytics.compare import CompareOptions, Group, compare
from dspex_server.analytics.significance import (
    bootstrap_mean_difference,
    mann_whitney_u,
    rank_average,
    two_proportion_ztest,
    welch_ttest,
)
from dspex_server.analytics.stats import percentiles, performance

RNG = np.random.default_rng(20261125)


@pytest.fixture(params=NAMESPACES)
def xp(request: pytest.FixtureRequest) -> Any:
    return load_namespace(request.param)


def arr(xp: Any, values: Any) -> Any:
    return xp.asarray(np.asarray(values, dtype=np.float64))


# -- distribution functions ------------------------------------------------------------


def test_lgamma_matches_scipy(xp: Any) -> None:
    x = np.array([1e-3, 0.1, 0.5, 1.0, 2.5, 10.0, 171.0, 1e4])
    np.testing.assert_allclose(
        host(dist.lgamma(xp, arr(xp, x))), special.gammaln(x), rtol=1e-12, atol=1e-14
    )


def test_betainc_matches_scipy(xp: Any) -> None:
    a = np.array([0.5, 1.0, 2.5, 10.0, 50.0, 0.3, 200.0])
    b = np.array([0.5, 3.0, 0.5, 10.0, 0.5, 7.0, 0.5])
    x = np.array([0.0, 0.2, 0.5, 0.77, 0.99, 1.0, 0.995])
    got = host(dist.betainc(xp, arr(xp, a), arr(xp, b), arr(xp, x)))
    np.testing.assert_allclose(got, special.betainc(a, b, x), rtol=1e-11, atol=1e-300)


def test_t_tail_matches_scipy(xp: Any) -> None:
    t = np.array([-12.0, -2.0, -0.3, 0.0, 0.7, 1.5, 3.0, 10.0, 40.0])
    df = np.array([1.0, 2.5, 3.0, 7.3, 20.0, 55.5, 100.0, 1000.0, 3.3])
    got = host(dist.t_two_sided_p(xp, arr(xp, t), arr(xp, df)))
    np.testing.assert_allclose(got, 2 * stats.t.sf(np.abs(t), df), rtol=1e-11)
    np.testing.assert_allclose(host(dist.t_sf(xp, arr(xp, t), arr(xp, df))), stats.t.sf(t, df))


def test_normal_tail_matches_scipy(xp: Any) -> None:
    z = np.array([-8.0, -3.0, -1.0, -0.1, 0.0, 0.5, 1.96, 4.0, 9.0, 30.0])
    np.testing.assert_allclose(host(dist.normal_sf(xp, arr(xp, z))), stats.norm.sf(z), rtol=1e-11)
    np.testing.assert_allclose(host(dist.normal_cdf(xp, arr(xp, z))), stats.norm.cdf(z), rtol=1e-11)
    np.testing.assert_allclose(host(dist.erfc(xp, arr(xp, z))), special.erfc(z), rtol=1e-11)


# -- descriptive statistics --------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7, 100, 1001])
def test_performance_matches_numpy_reference(xp: Any, n: int) -> None:
    x = RNG.gamma(2.0, 40.0, n)
    perf = performance(xp, x.tolist())
    assert perf.count == n
    assert perf.mean == pytest.approx(x.mean(), rel=1e-12)
    assert perf.std == pytest.approx(x.std(ddof=1), rel=1e-12)
    assert (perf.min, perf.max) == (x.min(), x.max())
    p50, p95, p99 = np.percentile(x, [50, 95, 99])
    assert (perf.p50, perf.p95, perf.p99) == pytest.approx((p50, p95, p99), rel=1e-12)
    assert perf.stability_score == pytest.approx(1 / (1 + x.std(ddof=1) / x.mean()), rel=1e-12)


def test_percentiles_match_numpy_and_scipy(xp: Any) -> None:
    x = RNG.normal(100.0, 15.0, 257)
    qs = (0.0, 1.0, 25.0, 50.0, 90.0, 99.9, 100.0)
    got = host(percentiles(xp, arr(xp, x), qs))
    np.testing.assert_allclose(got, np.percentile(x, qs), rtol=1e-12)
    np.testing.assert_allclose(got, stats.scoreatpercentile(x, qs), rtol=1e-12)


def test_performance_of_no_samples_is_count_zero_and_nothing_else(xp: Any) -> None:
    perf = performance(xp, [])
    assert perf.count == 0
    assert perf.mean is None and perf.p99 is None and perf.stability_score is None


def test_performance_of_one_sample(xp: Any) -> None:
    perf = performance(xp, [42.5])
    assert (perf.count, perf.mean, perf.std, perf.min, perf.max) == (1, 42.5, 0.0, 42.5, 42.5)
    assert (perf.p50, perf.p95, perf.p99, perf.stability_score) == (42.5, 42.5, 42.5, 1.0)


def test_performance_of_zeros_is_perfectly_stable(xp: Any) -> None:
    perf = performance(xp, [0.0] * 5)
    assert (perf.mean, perf.std, perf.p95, perf.stability_score) == (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_performance_rejects_nan_and_infinity_naming_the_index(xp: Any, bad: float) -> None:
    with pytest.raises(AnalyticsInputError, match="index 2 is NaN or infinite"):
        performance(xp, [1.0, 2.0, bad, 4.0])


def test_performance_rejects_negative_latencies(xp: Any) -> None:
    with pytest.raises(AnalyticsInputError, match="negative"):
        performance(xp, [1.0, -2.0])


def test_throughput_is_the_mean_tokens_per_second(xp: Any) -> None:
    perf = performance(xp, [10.0, 20.0], [100.0, 300.0])
    assert perf.throughput_tokens_per_s == 200.0


# -- significance tests ------------------------------------------------------------------


@pytest.mark.parametrize(("na", "nb", "shift"), [(20, 20, 0.0), (40, 25, 15.0), (100, 60, 3.0)])
def test_welch_matches_scipy(xp: Any, na: int, nb: int, shift: float) -> None:
    a, b = RNG.gamma(2.0, 50.0, na), RNG.gamma(2.0, 50.0, nb) + shift
    got = welch_ttest(xp, arr(xp, a), arr(xp, b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert got.t == pytest.approx(ref.statistic, rel=1e-12)
    assert got.df == pytest.approx(ref.df, rel=1e-12)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert got.cohens_d == pytest.approx(
        (a.mean() - b.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    )


def test_welch_of_two_constant_samples_has_no_t(xp: Any) -> None:
    same = welch_ttest(xp, arr(xp, [5.0] * 3), arr(xp, [5.0] * 4))
    assert (same.t, same.p_value) == (None, 1.0)
    apart = welch_ttest(xp, arr(xp, [5.0] * 3), arr(xp, [6.0] * 4))
    assert (apart.t, apart.p_value) == (None, 0.0)


@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_matches_scipy(xp: Any, ties: bool) -> None:
    a, b = RNG.gamma(2.0, 50.0, 33), RNG.gamma(2.0, 60.0, 27)
    if ties:
        a, b = np.round(a / 25.0), np.round(b / 25.0)
    got = mann_whitney_u(xp, arr(xp, a), arr(xp, b))
    ref = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic")
    assert got.u == ref.statistic
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert got.common_language == pytest.approx(ref.statistic / (33 * 27))
    assert got.rank_biserial == pytest.approx(2 * ref.statistic / (33 * 27) - 1)


def test_average_ranks_match_scipy(xp: Any) -> None:
    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.5])
    np.testing.assert_array_equal(host(rank_average(xp, arr(xp, x))), stats.rankdata(x))


def test_bootstrap_is_seeded_and_matches_a_numpy_reference(xp: Any) -> None:
    a, b = RNG.normal(100.0, 10.0, 30), RNG.normal(90.0, 10.0, 25)
    low, high = bootstrap_mean_difference(
        xp, arr(xp, a), arr(xp, b), resamples=500, level=0.9, seed=7
    )
    rng = np.random.default_rng(7)
    ia, ib = rng.integers(0, 30, size=500 * 30), rng.integers(0, 25, size=500 * 25)
    diffs = a[ia].reshape(500, 30).mean(axis=1) - b[ib].reshape(500, 25).mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(diffs, [5.0, 95.0])), rel=1e-12)
    assert low < a.mean() - b.mean() < high


def test_two_proportion_ztest_matches_the_normal_reference(xp: Any) -> None:
    got = two_proportion_ztest(xp, 45, 50, 30, 50)
    p = 75 / 100
    z = (0.9 - 0.6) / np.sqrt(p * (1 - p) * (2 / 50))
    assert got.z == pytest.approx(z, rel=1e-12)
    assert got.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
    assert two_proportion_ztest(xp, 50, 50, 20, 20).p_value == 1.0


# -- comparison --------------------------------------------------------------------------


def test_compare_below_min_samples_says_insufficient_data_and_recommends_nothing(xp: Any) -> None:
    groups = [Group("a", [10.0] * 19, 19, 19), Group("b", list(RNG.normal(50, 5, 40)), 40, 40)]
    report = compare(xp, groups, CompareOptions(min_samples=20))
    pair = report.pairs[0]
    assert pair.latency.verdict == "insufficient_data"
    assert "a has 19 latency samples" in pair.latency.reason
    assert pair.latency.welch is None and pair.latency.confidence is None
    assert pair.success.verdict == "insufficient_data"
    assert report.recommendation is None and "insufficient data" in report.reason
    assert [r.name for r in report.rankings] == ["b", "a"]


def test_compare_calls_a_clear_difference_and_recommends_with_reason(xp: Any) -> None:
    fast, slow = RNG.normal(50.0, 5.0, 30), RNG.normal(80.0, 5.0, 30)
    groups = [
        Group("slow", slow.tolist(), 30, 30, [0.002] * 30),
        Group("fast", fast.tolist(), 30, 30, [0.001] * 30),
    ]
    report = compare(xp, groups, CompareOptions(min_samples=20, resamples=300))
    pair = report.pairs[0]
    assert pair.latency.verdict == "b_better"
    ref = stats.ttest_ind(slow, fast, equal_var=False)
    assert pair.latency.welch is not None
    assert pair.latency.welch.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
    assert pair.latency.bootstrap_ci is not None and pair.latency.bootstrap_ci.low > 0
    assert pair.cost.verdict == "b_better"
    assert pair.success.verdict == "no_significant_difference"
    assert report.recommendation == "fast" and report.confident
    assert "fast is faster than slow" in report.reason


def test_compare_never_guesses_below_the_confidence_threshold(xp: Any) -> None:
    a, b = RNG.normal(50.0, 10.0, 25), RNG.normal(50.5, 10.0, 25)
    report = compare(
        xp,
        [Group("a", a.tolist()), Group("b", b.tolist())],
        CompareOptions(confidence_threshold=0.99),
    )
    assert report.pairs[0].latency.verdict == "no_significant_difference"
    assert report.recommendation is not None and not report.confident
    assert "no difference" in report.reason


def test_compare_refuses_duplicate_names(xp: Any) -> None:
    with pytest.raises(AnalyticsInputError):
        compare(xp, [Group("a", [1.0]), Group("a", [2.0])], CompareOptions())


def test_backend_auto_stays_on_numpy_without_a_gpu() -> None:
    xp = namespace("auto", work_elements=10**9, gpu_min_elements=1)
    assert "numpy" in xp.__name__
    assert "numpy" in namespace("numpy").__name__
