"""Small shared helpers: statistics, process inspection, the daemon's environment."""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")

# Variables that would leak a developer's real provider setup into a benchmark daemon.
_PROVIDER_ENV_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "GOOGLE_",
    "GROQ_",
    "MISTRAL_",
    "PERPLEXITY_",
    "OPENROUTER_",
    "XAI_",
    "OLLAMA_",
    "LMSTUDIO_",
    "AWS_",
    "BEDROCK_",
    "DSPEX_",
)

DAEMON_CMD = (sys.executable, "-m", "dspex_server")


def daemon_env(**overrides: str) -> dict[str, str]:
    """A clean environment for a benchmark daemon: no provider keys, no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PROVIDER_ENV_PREFIXES)}
    scratch = Path(tempfile.gettempdir()) / f"dspex-bench-{os.getpid()}"
    env.pop("DSPEX_CONFIG", None)  # naming a missing file would be an error; XDG has none
    env["XDG_CONFIG_HOME"] = str(scratch / "config")
    env["XDG_DATA_HOME"] = str(scratch / "data")
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(overrides)
    return env


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..1)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


def latency_summary(seconds: Sequence[float], unit: Literal["us", "ms"] = "us") -> dict[str, float]:
    """p50/p99/mean of latencies given in seconds, reported in microseconds or milliseconds
    (to 0.1 µs either way)."""
    scale, digits = (1e6, 1) if unit == "us" else (1e3, 4)
    ordered = sorted(seconds)
    return {
        f"p50_{unit}": round(percentile(ordered, 0.50) * scale, digits),
        f"p99_{unit}": round(percentile(ordered, 0.99) * scale, digits),
        f"mean_{unit}": round(sum(ordered) / max(1, len(ordered)) * scale, digits),
    }


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_cpu_precise_s(pid: int) -> float:
    """CPU seconds of a live process's threads from the scheduler's own accounting
    (/proc/PID/task/*/schedstat, in ns), where the tick-sampled figure of `proc_cpu_s`
    (10 ms ticks) is too coarse: per-chunk costs of a few µs. Threads that ended are not
    counted; falls back to `proc_cpu_s` where schedstat is missing."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
                total += int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return proc_cpu_s(pid)
    return total / 1e9


def self_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def loadavg() -> float:
    with open("/proc/loadavg") as fh:
        return float(fh.read().split()[0])


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        with open("/proc/meminfo") as fh:
            mem_gb = int(fh.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "load1_at_start": loadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


@dataclass
class Row:
    """One line of a scenario's table: who was measured, under which case, with what."""

    case: str
    who: str
    values: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class Goal:
    name: str
    value: float  # a ratio, or an absolute figure where the target is one (MB)
    target: str
    met: bool

    def to_json(self) -> dict[str, Any]:
        return {"goal": self.name, "value": self.value, "target": self.target, "met": self.met}


@dataclass
class ScenarioResult:
    name: str
    title: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def goal(self, name: str, value: float, target: str, met: bool) -> None:
        self.goals.append(Goal(name, round(value, 3), target, bool(met)))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "skipped": self.skipped,
            "params": dict(self.params),
            "rows": [
                {"case": r.case, "who": r.who, **r.values, **({"note": r.note} if r.note else {})}
                for r in self.rows
            ],
            "goals": [g.to_json() for g in self.goals],
            "notes": self.notes,
        }


def progress(line: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f"   {line}", file=sys.stderr, flush=True)


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
