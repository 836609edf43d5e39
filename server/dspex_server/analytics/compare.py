"""Pairwise comparison of providers (or provider/model pairs), rankings, a recommendation.

A difference is only called when both sides have at least `min_samples` observations and
the confidence (1 − p) reaches `confidence_threshold`; otherwise the verdict says
"insufficient_data" or "no_significant_difference", never a guess. For latency both
Welch's t and Mann–Whitney U must reach the threshold (the means and the distributions
agree), so a few outliers cannot carry the verdict alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .backend import Namespace, as_float_array
from .significance import (
    MannWhitney,
    Proportions,
    Welch,
    bootstrap_mean_difference,
    mann_whitney_u,
    two_proportion_ztest,
    welch_ttest,
)

Verdict = Literal["insufficient_data", "no_significant_difference", "a_better", "b_better"]


@dataclass
class Group:
    name: str
    latencies_ms: Sequence[float]
    successes: int | None = None
    requests: int | None = None
    costs: Sequence[float] = ()


@dataclass
class Interval:
    low: float
    high: float
    level: float


@dataclass
class LatencyComparison:
    verdict: Verdict
    reason: str
    confidence: float | None = None
    mean_difference_ms: float | None = None  # mean(a) − mean(b)
    welch: Welch | None = None
    mann_whitney: MannWhitney | None = None
    bootstrap_ci: Interval | None = None


@dataclass
class SuccessComparison:
    verdict: Verdict
    reason: str
    confidence: float | None = None
    test: Proportions | None = None


@dataclass
class CostComparison:
    verdict: Verdict
    reason: str
    confidence: float | None = None
    mean_a: float | None = None
    mean_b: float | None = None
    difference: float | None = None  # mean(a) − mean(b)
    welch: Welch | None = None


@dataclass
class PairComparison:
    a: str
    b: str
    latency: LatencyComparison
    success: SuccessComparison
    cost: CostComparison


@dataclass
class Ranking:
    rank: int
    name: str
    samples: int
    sufficient: bool
    mean_latency_ms: float | None
    success_rate: float | None
    mean_cost: float | None


@dataclass
class CompareReport:
    pairs: list[PairComparison]
    rankings: list[Ranking]
    recommendation: str | None
    reason: str
    confident: bool
    min_samples: int
    confidence_threshold: float
    notes: list[str] = field(default_factory=list)


@dataclass
class CompareOptions:
    min_samples: int = 20
    confidence_threshold: float = 0.8
    resamples: int = 2000
    ci_level: float = 0.95
    seed: int = 0


def _too_few(a: str, na: int, b: str, nb: int, what: str, min_samples: int) -> str | None:
    short = [f"{name} has {n}" for name, n in ((a, na), (b, nb)) if n < min_samples]
    if not short:
        return None
    return f"insufficient data: {' and '.join(short)} {what} (minSamples {min_samples})"


def compare_latency(xp: Namespace, ga: Group, gb: Group, opts: CompareOptions) -> LatencyComparison:
    a = as_float_array(xp, ga.latencies_ms, f"{ga.name} latencies")
    b = as_float_array(xp, gb.latencies_ms, f"{gb.name} latencies")
    na, nb = int(a.shape[0]), int(b.shape[0])
    short = _too_few(ga.name, na, gb.name, nb, "latency samples", opts.min_samples)
    if short:
        return LatencyComparison("insufficient_data", short)
    welch = welch_ttest(xp, a, b)
    mwu = mann_whitney_u(xp, a, b)
    low, high = bootstrap_mean_difference(
        xp, a, b, resamples=opts.resamples, level=opts.ci_level, seed=opts.seed
    )
    diff = float(xp.mean(a)) - float(xp.mean(b))
    confidence = 1.0 - max(welch.p_value, mwu.p_value)
    result = LatencyComparison(
        "no_significant_difference",
        "",
        confidence=confidence,
        mean_difference_ms=diff,
        welch=welch,
        mann_whitney=mwu,
        bootstrap_ci=Interval(low, high, opts.ci_level),
    )
    if confidence < opts.confidence_threshold:
        result.reason = (
            f"no significant latency difference (confidence {confidence:.3f} < "
            f"confidenceThreshold {opts.confidence_threshold})"
        )
        return result
    faster, slower = (ga.name, gb.name) if diff < 0 else (gb.name, ga.name)
    result.verdict = "a_better" if diff < 0 else "b_better"
    result.reason = (
        f"{faster} is faster than {slower} by {abs(diff):.3g} ms on average "
        f"(confidence {confidence:.3f}, Welch and Mann–Whitney agree)"
    )
    return result


def compare_success(xp: Namespace, ga: Group, gb: Group, opts: CompareOptions) -> SuccessComparison:
    if ga.requests is None or gb.requests is None or ga.successes is None or gb.successes is None:
        return SuccessComparison("insufficient_data", "insufficient data: no success counts")
    short = _too_few(ga.name, ga.requests, gb.name, gb.requests, "requests", opts.min_samples)
    if short:
        return SuccessComparison("insufficient_data", short)
    test = two_proportion_ztest(xp, ga.successes, ga.requests, gb.successes, gb.requests)
    confidence = 1.0 - test.p_value
    if confidence < opts.confidence_threshold:
        return SuccessComparison(
            "no_significant_difference",
            f"no significant difference in success rate (confidence {confidence:.3f})",
            confidence,
            test,
        )
    better: Verdict = "a_better" if test.rate_a > test.rate_b else "b_better"
    name = ga.name if better == "a_better" else gb.name
    return SuccessComparison(
        better,
        f"{name} succeeds more often ({test.rate_a:.1%} vs {test.rate_b:.1%}, "
        f"confidence {confidence:.3f})",
        confidence,
        test,
    )


def compare_cost(xp: Namespace, ga: Group, gb: Group, opts: CompareOptions) -> CostComparison:
    a = as_float_array(xp, ga.costs, f"{ga.name} costs")
    b = as_float_array(xp, gb.costs, f"{gb.name} costs")
    na, nb = int(a.shape[0]), int(b.shape[0])
    short = _too_few(ga.name, na, gb.name, nb, "cost samples", opts.min_samples)
    if short:
        return CostComparison("insufficient_data", short)
    mean_a, mean_b = float(xp.mean(a)), float(xp.mean(b))
    welch = welch_ttest(xp, a, b)
    confidence = 1.0 - welch.p_value
    out = CostComparison(
        "no_significant_difference",
        f"no significant cost difference (confidence {confidence:.3f})",
        confidence,
        mean_a,
        mean_b,
        mean_a - mean_b,
        welch,
    )
    if confidence >= opts.confidence_threshold and mean_a != mean_b:
        out.verdict = "a_better" if mean_a < mean_b else "b_better"
        cheaper = ga.name if mean_a < mean_b else gb.name
        out.reason = f"{cheaper} is cheaper per request (confidence {confidence:.3f})"
    return out


def _ranking(xp: Namespace, groups: Sequence[Group], opts: CompareOptions) -> list[Ranking]:
    rows = []
    for g in groups:
        lat = as_float_array(xp, g.latencies_ms, f"{g.name} latencies")
        n = int(lat.shape[0])
        costs = as_float_array(xp, g.costs, f"{g.name} costs")
        rows.append(
            Ranking(
                rank=0,
                name=g.name,
                samples=n,
                sufficient=n >= opts.min_samples,
                mean_latency_ms=float(xp.mean(lat)) if n else None,
                success_rate=(g.successes or 0) / g.requests if g.requests else None,
                mean_cost=float(xp.mean(costs)) if costs.shape[0] else None,
            )
        )

    def key(r: Ranking) -> tuple[bool, float, float, float]:
        # Groups with enough data first; then reliability, speed, price.
        return (
            not r.sufficient,
            -(r.success_rate if r.success_rate is not None else 1.0),
            r.mean_latency_ms if r.mean_latency_ms is not None else float("inf"),
            r.mean_cost if r.mean_cost is not None else 0.0,
        )

    rows.sort(key=key)
    for i, r in enumerate(rows, 1):
        r.rank = i
    return rows


def compare(xp: Namespace, groups: Sequence[Group], opts: CompareOptions) -> CompareReport:
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        from .backend import AnalyticsInputError

        raise AnalyticsInputError("compare: group names must be unique")
    pairs = [
        PairComparison(
            ga.name,
            gb.name,
            compare_latency(xp, ga, gb, opts),
            compare_success(xp, ga, gb, opts),
            compare_cost(xp, ga, gb, opts),
        )
        for ga, gb in itertools.combinations(groups, 2)
    ]
    rankings = _ranking(xp, groups, opts)
    report = CompareReport(
        pairs, rankings, None, "", False, opts.min_samples, opts.confidence_threshold
    )
    sufficient = [r for r in rankings if r.sufficient]
    if len(sufficient) < 2:
        report.reason = (
            f"insufficient data: {len(sufficient)} of {len(groups)} candidates have at least "
            f"minSamples={opts.min_samples} latency samples; at least 2 are needed"
        )
        return report
    best, second = sufficient[0], sufficient[1]
    pair = next(p for p in pairs if {p.a, p.b} == {best.name, second.name})
    best_is_a = pair.a == best.name
    wins = [
        c.reason
        for c in (pair.success, pair.latency, pair.cost)
        if c.verdict == ("a_better" if best_is_a else "b_better")
    ]
    report.recommendation = best.name
    if wins:
        report.confident = True
        report.reason = f"{best.name} ranks first: " + "; ".join(wins)
    else:
        report.reason = (
            f"{best.name} ranks first on observed means, but no difference from "
            f"{second.name} reaches confidenceThreshold {opts.confidence_threshold}"
        )
    return report
