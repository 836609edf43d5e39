"""Prompt-cache tokens are priced at their own prices (genai-prices): reads below the
input price, writes above it."""

from __future__ import annotations

from datetime import UTC, datetime

from dspex_server.cost import _calc_price


def _input_cost(cached: int = 0, written: int = 0) -> float:
    today = datetime.now(tz=UTC).date()
    return _calc_price("anthropic", "claude-sonnet-4-5", (1000, 100, cached, 0, written), today)[0]


def test_cache_writes_cost_more_than_plain_input() -> None:
    assert _input_cost(written=1000) > _input_cost()


def test_cache_reads_cost_less_than_plain_input() -> None:
    assert _input_cost(cached=1000) < _input_cost()
