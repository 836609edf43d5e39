"""Run the fake OpenAI server (fake_openai.py) in a process of its own."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

FAKE = str(Path(__file__).resolve().parent / "fake_openai.py")


@dataclass(frozen=True)
class FakeServer:
    pid: int
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeServer]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, FAKE, "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line.startswith(b"PORT "):
            raise RuntimeError("the fake OpenAI server did not start")
        yield FakeServer(proc.pid, int(line.split()[1]))
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
