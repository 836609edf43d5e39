"""Profile the daemon under one kind of load against the loopback fake OpenAI server:
`python -m bench.profile {plain,stream,paced,burst,mock} [--count N] [--conc C]
[--py-spy OUT.svg] [--top 40]`.

By default the daemon runs under cProfile (`python -m cProfile -o …`), is driven with
`count` requests `conc` at a time, then gets EOF (it exits cleanly, so the profile is
written) and the top functions by own time are printed. With `--py-spy` the daemon runs
under `py-spy record` instead (a flame graph, native frames excluded)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import daemon_env, proc_cpu_precise_s
from .fake_process import fake_openai
from .peers import API_KEY, MESSAGES, MODEL, drive
from .servers import Server, running

MODELS = {
    "plain": MODEL,
    "stream": MODEL,
    "paced": "bench-chunks-64-2000",
    "burst": "bench-chunks-64-0",
}


async def main(args: argparse.Namespace) -> None:
    out = Path(tempfile.mkdtemp(prefix="dspex-profile-")) / "daemon.prof"
    if args.py_spy:
        cmd: tuple[str, ...] = (
            "py-spy", "record", "-o", args.py_spy, "-r", "500", "--",
            sys.executable, "-m", "dspex_server",
        )  # fmt: skip
    else:
        cmd = (sys.executable, "-m", "cProfile", "-o", str(out), "-m", "dspex_server")
    async with fake_openai() as fake:
        env = daemon_env(OPENAI_API_KEY=API_KEY, OPENAI_BASE_URL=fake.base_url)
        tokens = itertools.count()
        async with running(Server("profiled", cmd, "dspex/chat", {}, env)) as client:

            def one(_: int) -> Any:
                params: dict[str, Any] = {"messages": MESSAGES}
                if args.what == "mock":
                    params["provider"] = "mock"
                else:
                    params.update(provider="openai", model=MODELS[args.what])
                if args.what not in {"plain", "mock"}:
                    params["partialResultToken"] = f"p{next(tokens)}"
                return client.request("dspex/chat", params)

            await drive(one, 50, 1)
            cpu0 = proc_cpu_precise_s(client.pid)
            stats = await drive(one, args.count, args.conc)
            cpu = proc_cpu_precise_s(client.pid) - cpu0
            print(
                f"{args.what}: {stats} daemon CPU {cpu / args.count * 1e6:.0f} µs/request",
                file=sys.stderr,
            )
    if not args.py_spy:
        pstats.Stats(str(out)).sort_stats(args.sort).print_stats(args.top)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("what", choices=[*MODELS, "mock"])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--conc", type=int, default=1)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--py-spy", help="record a flame graph here instead of cProfile")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
