"""How big a run is: the full suite, or the quick smoke version CI runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunConfig:
    quick: bool = False
    reps: int = 3
    seq: int = 2000  # sequential round trips per repetition
    pipe: int = 5000  # pipelined requests per repetition
    proxy_requests: int = 2000  # at the highest concurrency (the goals' cells)
    proxy_requests_low: int = 500  # at the lower ones (LiteLLM at c=1: ~150 req/s at best)
    proxy_concurrency: tuple[int, ...] = (1, 32, 256)
    proxy_reps: int = 2  # LiteLLM streams at ~60 req/s: a repetition takes minutes
    cold_reps: int = 7
    added_rounds: int = 20  # interleaved rounds of sequential requests (added latency)
    added_per_round: int = 100
    chunk_rounds: int = 4  # rounds of streams per variant (chunks)
    chunk_streams: int = 15
    memory_requests: int = 100_000
    memory_warmup: int = 5000
    analytics_samples: int = 1_000_000
    index_rows: int = 1_000_000
    index_dim: int = 256
    index_batch: int = 64
    predict_requests: int = 2000
    timeout_s: float = 1800.0  # a bound on any one scenario

    @classmethod
    def full(cls, reps: int | None = None) -> RunConfig:
        return cls(reps=reps or 3, proxy_reps=reps or 2)

    @classmethod
    def smoke(cls, reps: int | None = None) -> RunConfig:
        return cls(
            quick=True,
            reps=reps or 1,
            seq=100,
            pipe=300,
            proxy_requests=40,
            proxy_requests_low=40,
            proxy_concurrency=(1, 8),
            proxy_reps=1,
            cold_reps=1,
            added_rounds=2,
            added_per_round=10,
            chunk_rounds=1,
            chunk_streams=2,
            memory_requests=1000,
            memory_warmup=200,
            analytics_samples=10_000,
            index_rows=5000,
            index_dim=64,
            index_batch=8,
            predict_requests=100,
            timeout_s=60.0,
        )
