"""A/B of the daemon against an earlier version of itself, in one run (the overhead
scenario's measure, interleaved): `python -m bench.ab REF [--reps N]`.

REF's `server/` and `protocol/` are exported with `git archive` to a scratch directory and put
first on that daemon's PYTHONPATH; the tuned echo server runs alongside as the yardstick.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .common import REPO_ROOT, Row, ScenarioResult, daemon_env, median
from .config import RunConfig
from .report import scenario_markdown
from .scenarios.overhead import measure
from .servers import dspex_chat, echo


def export(ref: str, into: Path) -> Path:
    archive = into / "ref.tar"
    subprocess.run(
        ["git", "archive", "-o", str(archive), ref, "server", "protocol"],
        cwd=REPO_ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


async def run(ref: str, cfg: RunConfig) -> ScenarioResult:
    with tempfile.TemporaryDirectory(prefix="dspex-ab-") as scratch:
        root = export(ref, Path(scratch))
        old_env = daemon_env(PYTHONPATH=f"{root / 'server'}:{root / 'protocol'}")
        servers = {
            f"dspex @ {ref}": dspex_chat(env=old_env),
            "dspex (this tree)": dspex_chat(),
            "pygls echo, tuned": echo(tuned=True),
        }
        samples: dict[str, list[dict[str, float]]] = {k: [] for k in servers}
        labels = list(servers)
        for rep in range(cfg.reps):
            for label in labels[rep % 3 :] + labels[: rep % 3]:
                samples[label].append(await measure(servers[label], cfg))
    result = ScenarioResult(
        "ab",
        f"dspex/chat (mock): this tree against {ref}",
        ["seq_p50_us", "seq_p99_us", "pipe_msgs_s", "server_cpu_us_msg"],
        params={"reps": cfg.reps, "seq": cfg.seq, "pipelined": cfg.pipe},
    )
    for label, runs in samples.items():
        result.rows.append(Row("A/B", label, {k: median(r[k] for r in runs) for k in runs[0]}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("ref", help="a git revision to compare against")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    cfg = RunConfig.smoke(args.reps) if args.quick else RunConfig.full(args.reps)
    print(scenario_markdown(asyncio.run(run(args.ref, cfg))))


if __name__ == "__main__":
    main()
