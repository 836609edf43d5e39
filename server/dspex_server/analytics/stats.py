"""Descriptive statistics of latency samples, in array-API code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .backend import AnalyticsInputError, Array, Namespace, as_float_array

PERCENTILES = (50.0, 95.0, 99.0)


@dataclass
class Performance:
    """`std` is the sample standard deviation (ddof = 1; 0 for one sample). Percentiles
    interpolate linearly between order statistics (NumPy's default method)."""

    count: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    stability_score: float | None = None
    throughput_tokens_per_s: float | None = None


def sample_std(xp: Namespace, x: Array) -> Array:
    n = x.shape[0]
    if n < 2:
        return xp.asarray(0.0, dtype=xp.float64)
    return xp.std(x, correction=1)


def percentiles(xp: Namespace, x: Array, qs: Sequence[float]) -> Array:
    """Linearly interpolated percentiles of a non-empty 1-D array (`numpy.percentile`'s
    default), all from one sort."""
    n = x.shape[0]
    if n == 0:
        raise AnalyticsInputError("percentiles of an empty sample")
    ordered = xp.sort(x)
    pos = xp.asarray([q / 100.0 * (n - 1) for q in qs], dtype=xp.float64)
    lo = xp.floor(pos)
    frac = pos - lo
    lo_i = xp.astype(lo, xp.int64)
    hi_i = xp.minimum(lo_i + 1, n - 1)
    below = xp.take(ordered, lo_i)
    above = xp.take(ordered, hi_i)
    return below + (above - below) * frac


def stability_score(mean: float, std: float) -> float:
    """1 / (1 + std/mean): 1 for perfectly steady latencies, toward 0 as they scatter.
    All-zero samples (mean 0, std 0) are perfectly steady."""
    if std == 0.0:
        return 1.0
    return 1.0 / (1.0 + std / mean)


def performance(
    xp: Namespace,
    latencies_ms: Sequence[float] | Array,
    tokens_per_s: Sequence[float] | Array | None = None,
) -> Performance:
    """count, mean, std, min, max, p50, p95, p99, stability score and mean throughput.
    NaN, infinite or negative latencies are refused."""
    x = as_float_array(xp, latencies_ms, "samples")
    n = int(x.shape[0])
    throughput = None
    if tokens_per_s is not None:
        tps = as_float_array(xp, tokens_per_s, "tokensPerSecond")
        if tps.shape[0] > 0:
            throughput = float(xp.mean(tps))
    if n == 0:
        return Performance(count=0, throughput_tokens_per_s=throughput)
    if bool(xp.any(x < 0.0)):
        raise AnalyticsInputError("samples: latencies cannot be negative")
    mean = float(xp.mean(x))
    std = float(sample_std(xp, x))
    p50, p95, p99 = (float(v) for v in _unstack(xp, percentiles(xp, x, PERCENTILES)))
    return Performance(
        count=n,
        mean=mean,
        std=std,
        min=float(xp.min(x)),
        max=float(xp.max(x)),
        p50=p50,
        p95=p95,
        p99=p99,
        stability_score=stability_score(mean, std),
        throughput_tokens_per_s=throughput,
    )


def _unstack(xp: Namespace, x: Array) -> list[Array]:
    return [x[i] for i in range(x.shape[0])]
