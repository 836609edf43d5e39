"""Render results as Markdown tables (what docs/benchmarks.md shows) and as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .common import ScenarioResult


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def scenario_markdown(result: ScenarioResult) -> str:
    lines = [f"### {result.title}", ""]
    if result.skipped:
        lines.append(f"Skipped: {result.skipped}")
    if result.rows:
        cols = result.columns
        lines.append("| case | who | " + " | ".join(cols) + " |")
        lines.append("|---|---|" + "---|" * len(cols))
        for row in result.rows:
            cells = [_fmt(row.values[c]) if c in row.values else "" for c in cols]
            lines.append(f"| {row.case} | {row.who} | " + " | ".join(cells) + " |")
    if result.goals:
        lines += ["", "| goal | value | target | met |", "|---|---|---|---|"]
        for g in result.goals:
            lines.append(
                f"| {g.name} | {_fmt(g.value)} | {g.target} | {'yes' if g.met else 'NO'} |"
            )
    if result.notes:
        lines.append("")
        lines += [f"- {note}" for note in result.notes]
    if result.params:
        params = ", ".join(f"{k}={v}" for k, v in result.params.items())
        lines += ["", f"Parameters: {params}."]
    return "\n".join(lines) + "\n"


def markdown(results: Iterable[ScenarioResult], machine: Mapping[str, Any]) -> str:
    head = (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"Python {machine['python']}; load1 at start {machine['load1_at_start']}; "
        f"{machine['date']}.\n"
    )
    return head + "\n" + "\n".join(scenario_markdown(r) for r in results)


def write_json(
    path: Path, results: Iterable[ScenarioResult], machine: Mapping[str, Any], quick: bool
) -> None:
    doc = {"machine": dict(machine), "quick": quick, "scenarios": [r.to_json() for r in results]}
    path.write_text(json.dumps(doc, indent=2) + "\n")


def from_json(doc: Mapping[str, Any]) -> list[ScenarioResult]:
    """Scenario results back from a `--json` file."""
    from .common import Goal, Row

    results = []
    for s in doc["scenarios"]:
        columns = sorted(
            {k for r in s["rows"] for k in r if k not in ("case", "who", "note")},
            key=lambda k: min((list(r).index(k) for r in s["rows"] if k in r), default=0),
        )
        result = ScenarioResult(
            s["name"], s["title"], columns, skipped=s["skipped"], params=s["params"]
        )
        result.rows = [
            Row(r["case"], r["who"], {k: r[k] for k in columns if k in r}, r.get("note", ""))
            for r in s["rows"]
        ]
        result.goals = [Goal(g["goal"], g["value"], g["target"], g["met"]) for g in s["goals"]]
        result.notes = list(s["notes"])
        results.append(result)
    return results


def main() -> None:
    """`python -m bench.report OUT.md IN.json...`: one Markdown document from several runs
    (a scenario in a later file replaces the same scenario from an earlier one)."""
    import sys

    out, *inputs = sys.argv[1:]
    by_name: dict[str, ScenarioResult] = {}
    machine: Mapping[str, Any] = {}
    for path in inputs:
        doc = json.loads(Path(path).read_text())
        machine = doc["machine"]
        for result in from_json(doc):
            by_name[result.name] = result
    order = ["overhead", "proxy", "coldstart", "memory", "analytics", "predict"]
    ordered = sorted(by_name.values(), key=lambda r: order.index(r.name) if r.name in order else 99)
    Path(out).write_text(markdown(ordered, machine))


if __name__ == "__main__":
    main()
