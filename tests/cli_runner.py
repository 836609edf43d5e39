"""Run the installed `dspex` command as a subprocess without blocking the test's event loop
(the loopback fakes serve from the same loop)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

DSPEX = shutil.which("dspex", path=str(Path(sys.executable).parent)) or "dspex"


async def run_cli(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr). Without `stdin`, the command reads an empty pipe."""
    process = await asyncio.create_subprocess_exec(
        DSPEX,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else b""), timeout
    )
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
