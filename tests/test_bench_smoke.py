"""The benchmark suite's smoke run (`python -m bench --quick`): tiny counts, every scenario,
so the suite never rots. Peers that are not installed (the `bench` extra) are skipped by the
suite itself, never failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("overhead", "proxy", "added", "chunks", "coldstart", "memory", "analytics", "predict")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc: dict[str, Any] = json.loads(out.read_text())
    doc["stdout"] = proc.stdout
    return doc


def scenario(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["scenarios"] if s["name"] == name)
    return found


def test_bench_smoke_runs_every_scenario(smoke: dict[str, Any]) -> None:
    assert smoke["quick"] is True
    assert [s["name"] for s in smoke["scenarios"]] == list(SCENARIOS)
    assert smoke["machine"]["cores"] >= 1


def test_bench_smoke_overhead_measures_dspex_and_both_echo_servers(smoke: dict[str, Any]) -> None:
    rows = scenario(smoke, "overhead")["rows"]
    assert len(rows) == 3
    assert rows[0]["who"].startswith("dspex")
    assert all(r["pipe_msgs_s"] > 0 and r["seq_p50_us"] > 0 for r in rows)
    goals = {g["goal"] for g in scenario(smoke, "overhead")["goals"]}
    assert goals >= {
        "seq p50 vs tuned echo",
        "throughput vs tuned echo",
        "throughput vs pygls defaults",
    }


def test_bench_smoke_proxy_answers_every_request_on_both_transports(
    smoke: dict[str, Any],
) -> None:
    rows = scenario(smoke, "proxy")["rows"]
    whos = {r["who"] for r in rows}
    assert "dspex daemon (httpTransport=aiohttp)" in whos
    assert "dspex daemon (httpTransport=httpx)" in whos
    assert "raw httpx.AsyncClient" in whos
    assert {r["case"] for r in rows} >= {"plain c=1", "stream c=1"}
    assert all(r["errors"] == 0 and r["req_s"] > 0 for r in rows)


def test_bench_smoke_added_latency_compares_dspex_with_a_direct_call(
    smoke: dict[str, Any],
) -> None:
    added = scenario(smoke, "added")
    rows = {r["who"]: r for r in added["rows"]}
    assert any(who.startswith("direct: aiohttp") for who in rows)
    dspex = next(r for who, r in rows.items() if who.startswith("dspex"))
    assert dspex["p50_ms"] > 0 and "added_p50_ms" in dspex and "added_p99_ms" in dspex
    assert {g["target"] for g in added["goals"]} == {"<= 0.3 ms", "<= 1 ms"}


def test_bench_smoke_chunks_lose_and_reorder_nothing(smoke: dict[str, Any]) -> None:
    chunks = scenario(smoke, "chunks")
    cases = {r["case"] for r in chunks["rows"]}
    assert len(cases) == 3
    assert all(r["broken_streams"] == 0 for r in chunks["rows"])
    dspex = [r for r in chunks["rows"] if r["who"].startswith("dspex")]
    assert dspex and all("added_delay_p50_us" in r for r in dspex)
    broken = next(g for g in chunks["goals"] if "dropped" in g["goal"])
    assert broken["met"] is True


def test_bench_smoke_cold_start_and_memory_report_dspex(smoke: dict[str, Any]) -> None:
    cold = scenario(smoke, "coldstart")
    assert cold["rows"][0]["who"].startswith("dspex") and cold["rows"][0]["ms"] > 0
    memory = scenario(smoke, "memory")
    assert memory["rows"][0]["idle_rss_mb"] > 0
    assert memory["goals"][0]["target"] == "<= 5 MB"


def test_bench_smoke_parallel_areas_run_or_skip_with_a_reason(smoke: dict[str, Any]) -> None:
    for name in ("analytics", "predict"):
        result = scenario(smoke, name)
        reasons = [result["skipped"] or "", *result["notes"]]
        dspex_rows = [r for r in result["rows"] if r["who"].startswith("dspex")]
        # Either the daemon served the method (dspex rows) or the scenario says why not.
        assert dspex_rows or any("-32601" in r or "not installed" in r for r in reasons)


def test_bench_smoke_prints_markdown_tables(smoke: dict[str, Any]) -> None:
    assert "| case | who |" in smoke["stdout"]
