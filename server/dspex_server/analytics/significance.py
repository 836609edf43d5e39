"""Statistical tests for comparing two samples, in array-API code.

Verified against SciPy in tests/test_analytics_stats.py: `ttest_ind(equal_var=False)`,
`mannwhitneyu(method="asymptotic")`, the normal distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .backend import Array, Namespace
from .distributions import normal_sf, t_two_sided_p
from .stats import percentiles, sample_std


@dataclass
class Welch:
    t: float | None  # None when both samples are constant (no variance to test against)
    df: float | None
    p_value: float
    cohens_d: float | None  # (mean_a − mean_b) / sqrt((var_a + var_b) / 2)


@dataclass
class MannWhitney:
    u: float  # U of sample a (SciPy's `statistic`)
    p_value: float
    rank_biserial: float  # 2U/(n_a n_b) − 1 in [−1, 1]; > 0: a tends to be larger
    common_language: float  # U/(n_a n_b) = P(A > B) + ½ P(A = B)


@dataclass
class Proportions:
    rate_a: float
    rate_b: float
    z: float
    p_value: float


def _scalar(xp: Namespace, v: float) -> Array:
    return xp.asarray(v, dtype=xp.float64)


def welch_ttest(xp: Namespace, a: Array, b: Array) -> Welch:
    na, nb = int(a.shape[0]), int(b.shape[0])
    if na < 2 or nb < 2:
        raise ValueError("Welch's t-test needs at least two samples on each side")
    ma, mb = float(xp.mean(a)), float(xp.mean(b))
    va, vb = float(sample_std(xp, a)) ** 2, float(sample_std(xp, b)) ** 2
    sa, sb = va / na, vb / nb
    se2 = sa + sb
    pooled = math.sqrt((va + vb) / 2.0)
    d = (ma - mb) / pooled if pooled > 0.0 else None
    if se2 == 0.0:
        return Welch(t=None, df=None, p_value=1.0 if ma == mb else 0.0, cohens_d=d)
    t = (ma - mb) / math.sqrt(se2)
    df = se2 * se2 / (sa * sa / (na - 1) + sb * sb / (nb - 1))
    p = float(t_two_sided_p(xp, _scalar(xp, t), _scalar(xp, df)))
    return Welch(t=t, df=df, p_value=min(1.0, max(0.0, p)), cohens_d=d)


def rank_average(xp: Namespace, values: Array) -> Array:
    """1-based ranks, ties getting the average of the ranks they span."""
    ordered = xp.sort(values)
    left = xp.searchsorted(ordered, values, side="left")
    right = xp.searchsorted(ordered, values, side="right")
    return (xp.astype(left, xp.float64) + xp.astype(right, xp.float64) + 1.0) / 2.0


def mann_whitney_u(xp: Namespace, a: Array, b: Array) -> MannWhitney:
    """Two-sided Mann–Whitney U with the normal approximation, tie correction and
    continuity correction (SciPy's `method="asymptotic"`, `use_continuity=True`)."""
    na, nb = int(a.shape[0]), int(b.shape[0])
    if na == 0 or nb == 0:
        raise ValueError("Mann–Whitney U needs samples on both sides")
    both = xp.concat((a, b))
    ranks = rank_average(xp, both)
    u_a = float(xp.sum(ranks[:na])) - na * (na + 1) / 2.0
    n = na + nb
    counts = xp.astype(xp.unique_counts(both).counts, xp.float64)
    tie_term = float(xp.sum(counts * counts * counts - counts))
    mu = na * nb / 2.0
    var = na * nb / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0.0:
        p = 1.0
    else:
        u_big = max(u_a, na * nb - u_a)
        z = (u_big - mu - 0.5) / math.sqrt(var)
        p = min(1.0, 2.0 * float(normal_sf(xp, _scalar(xp, z))))
    cl = u_a / (na * nb)
    return MannWhitney(u=u_a, p_value=p, rank_biserial=2.0 * cl - 1.0, common_language=cl)


def bootstrap_mean_difference(
    xp: Namespace, a: Array, b: Array, *, resamples: int, level: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of mean(a) − mean(b). Resampling indices
    come from NumPy's seeded generator on the host (the array API has no random numbers);
    the resampled means are computed in `xp`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    na, nb = int(a.shape[0]), int(b.shape[0])
    ia = xp.asarray(rng.integers(0, na, size=resamples * na))
    ib = xp.asarray(rng.integers(0, nb, size=resamples * nb))
    means_a = xp.mean(xp.reshape(xp.take(a, ia), (resamples, na)), axis=1)
    means_b = xp.mean(xp.reshape(xp.take(b, ib), (resamples, nb)), axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = percentiles(xp, means_a - means_b, (tail, 100.0 - tail))
    return float(low), float(high)


def two_proportion_ztest(
    xp: Namespace, successes_a: int, n_a: int, successes_b: int, n_b: int
) -> Proportions:
    """Two-sided pooled z-test of two success rates."""
    ra, rb = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    if se == 0.0:
        return Proportions(rate_a=ra, rate_b=rb, z=0.0, p_value=1.0)
    z = (ra - rb) / se
    p = min(1.0, 2.0 * float(normal_sf(xp, _scalar(xp, abs(z)))))
    return Proportions(rate_a=ra, rate_b=rb, z=z, p_value=p)
