"""Every `<!-- example -->` block in docs/cli.md runs, and prints its `<!-- output -->`."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"<!-- example -->\n```sh\n(.*?)```\n(?:<!-- output -->\n```text\n(.*?)```)?", re.S
)


def examples(doc: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer((ROOT / "docs" / doc).read_text())]


@pytest.mark.parametrize(("script", "expected"), examples("cli.md"))
async def test_cli_doc_example(
    tmp_path: Path, env: dict[str, str], script: str, expected: str | None
) -> None:
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    if expected is not None:
        assert out.decode() == expected


def test_the_cli_doc_has_examples() -> None:
    assert len(examples("cli.md")) >= 6


README_SCRIPT = re.compile(r"<!-- readme-script -->\n```sh\n(.*?)```", re.S)


async def test_the_readme_script_examples_work_copied_literally(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """After the Quick start (a `.venv` in the current directory, nothing activated), the
    README's script block runs as written, each line succeeding."""
    (script,) = README_SCRIPT.findall((ROOT / "README.md").read_text())
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        "set -e -o pipefail\n" + script,
        cwd=tmp_path,
        env={**env, "PATH": path or "/usr/bin:/bin"},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 180)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("Summarise: LSP framing over stdio\n")
