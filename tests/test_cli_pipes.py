"""A closed pipe ends every command quietly (issue 20): `dspex logs | head -1` prints no
traceback and exits 141 (128 + SIGPIPE, as documented in docs/cli.md), or 0 when all was
written before the reader left."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# Each writes far more than a pipe holds (64 KiB), so the reader leaves before the end.
PIPELINES = {
    "logs": 'for i in $(seq 1 40); do printf \'{"prompt": "%0300d"}\\n\' $i; done'
    " | dspex chat --jsonl --provider mock > /dev/null && dspex logs -n 40 | head -1",
    "embed": "dspex embed --provider mock $(seq 1 600) | head -c1",
    "chat-jsonl": 'seq 1 400 | sed \'s/.*/{"prompt": "p&"}/\' | dspex chat --jsonl '
    "--provider mock | head -1",
    "schema": "python3 -m dspex_protocol.schema | head -1",
    "providers-matrix": "python3 -m dspex_server.providers.matrix | head -1",
    "help": "dspex --help | head -1",
    "server-help": "dspex-server --help | head -c1",
}


async def run_pipeline(env: dict[str, str], cwd: Path, script: str) -> tuple[int, str, str]:
    env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f'{script}; echo "status: ${{PIPESTATUS[0]}}"',
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    text = out.decode()
    status = int(text.rsplit("status: ", 1)[1])
    return status, text, err.decode()


@pytest.mark.parametrize("name", list(PIPELINES))
async def test_a_closed_pipe_exits_quietly(env: dict[str, str], tmp_path: Path, name: str) -> None:
    status, _, err = await run_pipeline(env, tmp_path, PIPELINES[name])
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert "Exception ignored" not in err, err
    assert status in (0, 141), err


async def test_a_big_output_into_a_closed_pipe_exits_141(
    env: dict[str, str], tmp_path: Path
) -> None:
    status, _, err = await run_pipeline(env, tmp_path, PIPELINES["embed"])
    assert (status, err) == (141, "")
