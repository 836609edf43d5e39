"""`python -m bench [SCENARIO ...] [--quick] [--json PATH] [--markdown PATH] [--reps N]`"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
import time
from pathlib import Path

from .common import ScenarioResult, loadavg, machine
from .config import RunConfig
from .report import markdown, scenario_markdown, write_json
from .scenarios import SCENARIOS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="dspex against its peers, measured side by side in one run.",
    )
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help=f"which to run (default: all): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts: the CI smoke run")
    parser.add_argument("--reps", type=int, help="repetitions (medians are reported)")
    parser.add_argument("--proxy-requests", type=int, help="proxy requests at top concurrency")
    parser.add_argument("--proxy-requests-low", type=int, help="proxy requests below it")
    parser.add_argument("--index-rows", type=int, help="rows of the analytics search matrix")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown here")
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    return args


async def run_all(names: list[str], cfg: RunConfig) -> list[ScenarioResult]:
    # SIGTERM cancels the run so that every spawned server is stopped on the way out.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    results = []
    for name in names:
        module = SCENARIOS[name]
        started, load = time.perf_counter(), loadavg()
        print(f"== {name}: {module.TITLE} (load1 {load:.2f})", file=sys.stderr, flush=True)
        try:
            result = await asyncio.wait_for(module.run(cfg), cfg.timeout_s)
        except TimeoutError:
            result = ScenarioResult(name, module.TITLE, [], skipped="timed out")
        result.notes.append(
            f"ran in {time.perf_counter() - started:.1f} s; load1 {load:.2f} → {loadavg():.2f}"
        )
        print(scenario_markdown(result), flush=True)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = RunConfig.smoke(args.reps) if args.quick else RunConfig.full(args.reps)
    if args.proxy_requests:
        cfg = dataclasses.replace(cfg, proxy_requests=args.proxy_requests)
    if args.index_rows:
        cfg = dataclasses.replace(cfg, index_rows=args.index_rows)
    if args.proxy_requests_low:
        cfg = dataclasses.replace(cfg, proxy_requests_low=args.proxy_requests_low)
    names = args.scenarios or list(SCENARIOS)
    info = machine()
    try:
        results = asyncio.run(run_all(names, cfg))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("interrupted: every spawned server was stopped", file=sys.stderr)
        return 130
    if args.json:
        write_json(args.json, results, info, cfg.quick)
    if args.markdown:
        args.markdown.write_text(markdown(results, info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
