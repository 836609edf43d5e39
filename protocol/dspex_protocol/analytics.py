"""Analytics methods: performance statistics, provider comparison, health, similarity and
named vector indexes. Undefined statistics (e.g. the mean of no samples) are left out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ._base import WireModel

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector = list[FiniteFloat]
Verdict = Literal["insufficient_data", "no_significant_difference", "a_better", "b_better"]
BackendUsed = Literal["numpy", "cupy", "array_api_strict"]

MAX_SAMPLES = 1_000_000
MAX_VECTORS = 200_000
MAX_DIMENSIONS = 65_536


class _PackedFloats(WireModel):
    """Little-endian IEEE-754 floats, base64-encoded (RFC 4648 standard alphabet, padded):
    about 5.3 characters per float32 instead of ~20 for a JSON number."""

    dtype: Literal["float32", "float64"] = Field(
        default="float32", description="Little-endian float32 (4 bytes) or float64 (8)."
    )
    data: str = Field(description="base64 of the values' bytes, row after row.")

    def _values(self) -> int:
        raise NotImplementedError

    def _shape_text(self) -> str:
        raise NotImplementedError

    @property
    def itemsize(self) -> int:
        return 4 if self.dtype == "float32" else 8

    @model_validator(mode="after")
    def _length(self) -> _PackedFloats:
        expected = self._values() * self.itemsize
        chars = len(self.data)
        if chars % 4:
            raise ValueError(f"data: {chars} base64 characters (not a multiple of 4)")
        padding = chars - len(self.data.rstrip("="))
        got = chars // 4 * 3 - min(padding, 2)
        if got != expected:
            raise ValueError(
                f"data holds {got} bytes; {self._shape_text()} × {self.itemsize} = "
                f"{expected} expected"
            )
        return self

    def to_bytes(self) -> bytes:
        """The raw little-endian bytes; invalid base64 raises ValueError."""
        import binascii

        try:
            raw = binascii.a2b_base64(self.data, strict_mode=True)
        except binascii.Error as exc:
            raise ValueError(f"data is not valid base64 ({exc})") from None
        if len(raw) != self._values() * self.itemsize:  # pragma: no cover - checked above
            raise ValueError("data does not hold the stated number of values")
        return raw


def _b64(raw: bytes | bytearray | memoryview) -> str:
    import binascii

    return binascii.b2a_base64(raw, newline=False).decode("ascii")


def _flat_bytes(values: Any, dtype: str) -> bytes:
    """Little-endian bytes of an array (`astype`/`tobytes`) or an iterable of numbers."""
    code = "<f4" if dtype == "float32" else "<f8"
    if hasattr(values, "astype") and hasattr(values, "tobytes"):
        out: bytes = values.astype(code, order="C", copy=False).tobytes()
        return out
    import array
    import sys

    flat = array.array("f" if dtype == "float32" else "d", (float(x) for x in values))
    if sys.byteorder == "big":  # pragma: no cover - little-endian hosts in CI
        flat.byteswap()
    return flat.tobytes()


class PackedValues(_PackedFloats):
    """`count` numbers in bulk (e.g. latency samples), packed like `PackedVectors`."""

    count: int = Field(ge=0, le=MAX_SAMPLES)

    def _values(self) -> int:
        return self.count

    def _shape_text(self) -> str:
        return f"count = {self.count}"

    @classmethod
    def pack(cls, values: Any, dtype: Literal["float32", "float64"] = "float64") -> PackedValues:
        """Pack a 1-D array or a sequence of numbers (float64 by default: samples keep their
        precision)."""
        raw = _flat_bytes(values, dtype)
        return cls(count=len(raw) // (4 if dtype == "float32" else 8), dtype=dtype, data=_b64(raw))


class PackedVectors(_PackedFloats):
    """Vectors in bulk: `rows` × `dimensions` little-endian IEEE-754 floats (float32 unless
    `dtype` says float64), row after row, base64-encoded (RFC 4648 standard alphabet,
    padded) in `data`. About 5.3 characters per float32 instead of ~20 for a JSON number.
    The length of `data` must match rows × dimensions × itemsize exactly; NaN and
    infinities are refused by the daemon."""

    rows: int = Field(ge=1, le=MAX_VECTORS)
    dimensions: int = Field(ge=1, le=MAX_DIMENSIONS)

    def _values(self) -> int:
        return self.rows * self.dimensions

    def _shape_text(self) -> str:
        return f"rows × dimensions = {self.rows} × {self.dimensions}"

    @classmethod
    def from_bytes(
        cls, raw: bytes | bytearray | memoryview, rows: int, dimensions: int
    ) -> PackedVectors:
        """Pack raw little-endian float32 bytes (e.g. `ndarray.astype('<f4').tobytes()`)."""
        return cls(rows=rows, dimensions=dimensions, data=_b64(raw))

    @classmethod
    def pack(cls, vectors: Any, dtype: Literal["float32", "float64"] = "float32") -> PackedVectors:
        """Pack a 2-D array (anything with `shape`, `astype` and `tobytes`, e.g. NumPy) or
        a list of equal-length lists of numbers."""
        if hasattr(vectors, "shape") and hasattr(vectors, "astype"):
            if len(vectors.shape) != 2:
                raise ValueError("pack: expected a 2-D array (rows × dimensions)")
            rows, dims = (int(n) for n in vectors.shape)
            raw = _flat_bytes(vectors, dtype)
        else:
            rows_list = [list(v) for v in vectors]
            rows, dims = len(rows_list), len(rows_list[0]) if rows_list else 0
            if any(len(v) != dims for v in rows_list):
                raise ValueError("pack: vectors of unequal dimensions")
            raw = _flat_bytes((x for v in rows_list for x in v), dtype)
        return cls(rows=rows, dimensions=dims, dtype=dtype, data=_b64(raw))


class _TextsOrVectors(WireModel):
    texts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_VECTORS)
    vectors: list[Vector] | None = Field(default=None, min_length=1, max_length=MAX_VECTORS)
    packed_vectors: PackedVectors | None = Field(
        default=None, description="The vectors in compact form, instead of `vectors`."
    )
    provider: str | None = Field(default=None, description="Embedding provider for `texts`.")
    model: str | None = Field(default=None, description="Embedding model for `texts`.")

    @model_validator(mode="after")
    def _one_source(self) -> _TextsOrVectors:
        given = [x is not None for x in (self.texts, self.vectors, self.packed_vectors)]
        if sum(given) != 1:
            raise ValueError("give exactly one of texts, vectors or packedVectors")
        return self

    @property
    def count(self) -> int:
        """How many texts or vectors the request carries."""
        if self.packed_vectors is not None:
            return self.packed_vectors.rows
        return len(self.texts or self.vectors or [])


# -- performance ---------------------------------------------------------------------------


class PerformanceParams(WireModel):
    provider: str | None = None
    model: str | None = None
    samples: list[FiniteFloat] | None = Field(
        default=None, max_length=MAX_SAMPLES, description="Latencies in ms, instead of the store."
    )
    packed_samples: PackedValues | None = Field(
        default=None, description="`samples` in compact form (float64 keeps them exact)."
    )
    tokens_per_second: list[FiniteFloat] | None = Field(default=None, max_length=MAX_SAMPLES)

    @model_validator(mode="after")
    def _target(self) -> PerformanceParams:
        if self.samples is not None and self.packed_samples is not None:
            raise ValueError("give samples or packedSamples, not both")
        if self.samples is None and self.packed_samples is None and self.provider is None:
            raise ValueError("give samples, or a provider (and optionally a model)")
        return self


class PerformanceResult(WireModel):
    source: Literal["samples", "window"]
    provider: str | None = None
    model: str | None = None
    count: int
    mean: float | None = None
    std: float | None = Field(default=None, description="Sample standard deviation (ddof 1).")
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    stability_score: float | None = Field(default=None, description="1 / (1 + std / mean)")
    throughput_tokens_per_s: float | None = None
    requests: int | None = Field(default=None, description="Requests in the window.")
    success_rate: float | None = None
    mean_cost: float | None = None
    backend: BackendUsed


# -- compare -------------------------------------------------------------------------------


class SampleSet(WireModel):
    latencies: list[FiniteFloat] = Field(max_length=MAX_SAMPLES)
    successes: int | None = Field(default=None, ge=0)
    requests: int | None = Field(default=None, ge=0)
    costs: list[FiniteFloat] = Field(default_factory=list, max_length=MAX_SAMPLES)

    @model_validator(mode="after")
    def _counts(self) -> SampleSet:
        if (self.successes is None) != (self.requests is None):
            raise ValueError("give both successes and requests, or neither")
        if (
            self.successes is not None
            and self.requests is not None
            and (self.successes > self.requests)
        ):
            raise ValueError("successes cannot exceed requests")
        return self


class CompareTarget(WireModel):
    provider: str
    model: str | None = None


class CompareParams(WireModel):
    targets: list[CompareTarget] | None = Field(default=None, min_length=2, max_length=50)
    samples: dict[str, SampleSet] | None = Field(default=None, min_length=2, max_length=50)
    min_samples: int | None = Field(default=None, ge=2)
    confidence_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    resamples: int = Field(default=2000, ge=100, le=20_000)
    ci_level: float = Field(default=0.95, gt=0.0, lt=1.0)
    seed: int = 0
    since: datetime | None = Field(
        default=None,
        description="Compare the logged history (the durable store) from this time (ISO 8601 "
        "or Unix seconds) instead of the live window; with `until`, a time range.",
    )
    until: datetime | None = None
    max_samples: int = Field(
        default=100_000,
        ge=2,
        le=10_000_000,
        description="With `since`: latencies per group at most (a uniform random sample "
        "drawn in SQL beyond it; the counts of requests and successes stay exact).",
    )
    work_done_token: int | str | None = Field(
        default=None,
        description="Work-done progress (`$/progress` begin/report/end) on this token; "
        "`window/workDoneProgress/cancel` ends the request with -32800, nothing changed.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> CompareParams:
        if self.targets is not None and self.samples is not None:
            raise ValueError("give targets or samples, not both")
        if self.samples is not None and (self.since or self.until):
            raise ValueError("since/until read the logged history: not with samples")
        return self


class WelchTest(WireModel):
    t: float | None = None
    df: float | None = None
    p_value: float
    cohens_d: float | None = None


class MannWhitneyTest(WireModel):
    u: float
    p_value: float
    rank_biserial: float
    common_language: float


class ProportionTest(WireModel):
    rate_a: float
    rate_b: float
    z: float
    p_value: float


class Interval(WireModel):
    low: float
    high: float
    level: float


class LatencyComparison(WireModel):
    verdict: Verdict
    reason: str
    confidence: float | None = None
    mean_difference_ms: float | None = None
    welch: WelchTest | None = None
    mann_whitney: MannWhitneyTest | None = None
    bootstrap_ci: Interval | None = None


class SuccessComparison(WireModel):
    verdict: Verdict
    reason: str
    confidence: float | None = None
    test: ProportionTest | None = None


class CostComparison(WireModel):
    verdict: Verdict
    reason: str
    confidence: float | None = None
    mean_a: float | None = None
    mean_b: float | None = None
    difference: float | None = None
    welch: WelchTest | None = None


class PairComparison(WireModel):
    a: str
    b: str
    latency: LatencyComparison
    success: SuccessComparison
    cost: CostComparison


class RankingEntry(WireModel):
    rank: int
    name: str
    samples: int
    sufficient: bool
    mean_latency_ms: float | None = None
    success_rate: float | None = None
    mean_cost: float | None = None


class CompareResult(WireModel):
    pairs: list[PairComparison]
    rankings: list[RankingEntry]
    recommendation: str | None = None
    reason: str
    confident: bool
    min_samples: int
    confidence_threshold: float
    backend: BackendUsed


# -- health --------------------------------------------------------------------------------


class HealthParams(WireModel):
    provider: str | None = None


class Anomaly(WireModel):
    at: float = Field(description="Unix time (seconds) of the request that raised it.")
    cause: Literal["latency_drift", "error_rate", "circuit_open"]
    message: str
    value: float


class ProviderHealth(WireModel):
    provider: str
    configured: bool
    status: Literal["healthy", "degraded", "unhealthy", "unknown"]
    score: float
    requests: int
    error_rate: float | None = None
    latency_ewma_ms: float | None = None
    baseline_mean_ms: float | None = None
    baseline_std_ms: float | None = None
    baseline_samples: int = 0
    z_score: float | None = None
    drift: float | None = Field(default=None, description="EWMA / baseline mean − 1")
    breaker: str | None = Field(
        default=None, description="The worst circuit state of the provider's models."
    )
    breakers: dict[str, str] | None = Field(
        default=None, description="Each model's circuit state (closed, open, half_open)."
    )
    active: list[str] = Field(default_factory=list, description="Causes active now.")
    anomalies: list[Anomaly] = Field(default_factory=list)


class HealthResult(WireModel):
    providers: list[ProviderHealth]
    auto_switch: bool
    anomaly_threshold: float


# -- similarity and indexes ----------------------------------------------------------------


class SimilarityParams(_TextsOrVectors):
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)


class SimilarPair(WireModel):
    i: int
    j: int
    score: float


class SimilarityResult(WireModel):
    matrix: list[list[float]]
    dimensions: int
    threshold: float
    pairs: list[SimilarPair] = Field(description="i < j with score >= threshold, best first.")
    provider: str | None = None
    model: str | None = None
    backend: BackendUsed


class IndexAddParams(_TextsOrVectors):
    name: str = Field(min_length=1, max_length=200)
    ids: list[str] | None = None
    metadata: list[dict[str, Any] | None] | None = None
    work_done_token: int | str | None = Field(
        default=None,
        description="Work-done progress (`$/progress` begin/report/end) on this token; "
        "`window/workDoneProgress/cancel` ends the request with -32800, nothing changed.",
    )


class IndexAddResult(WireModel):
    name: str
    added: int
    size: int
    dimensions: int


class IndexQueryParams(_TextsOrVectors):
    name: str = Field(min_length=1, max_length=200)
    k: int = Field(default=10, ge=1, le=1000)
    threshold: float | None = Field(default=None, ge=-1.0, le=1.0)


class IndexMatch(WireModel):
    id: str
    score: float
    metadata: dict[str, Any] | None = None


class IndexQueryResult(WireModel):
    name: str
    results: list[list[IndexMatch]] = Field(description="One best-first list per query.")
    backend: BackendUsed


class IndexDropParams(WireModel):
    name: str = Field(min_length=1, max_length=200)


class IndexDropResult(WireModel):
    name: str
    dropped: bool


class IndexListParams(WireModel):
    pass


class IndexInfo(WireModel):
    name: str
    dimensions: int
    size: int


class IndexListResult(WireModel):
    indexes: list[IndexInfo]
