"""Cold start: the daemon answers `initialize` before it imports pydantic, its services or
anything heavy; the first message after `initialize` loads them (see app.py)."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from daemon import clean_env

import dspex_protocol
from dspex_protocol.methods import ALL
from dspex_protocol.names import COMMAND_NAMES, METHOD_NAMES
from dspex_server.app import DspexServer
from dspex_server.providers.names import PROVIDER_NAMES
from dspex_server.providers.table import PROVIDERS
from dspex_server.rpc import build_server

# Modules that must not be imported by the time `initialize` is answered.
HEAVY = (
    "numpy",
    "scipy",
    "genai_prices",
    "sqlite3",
    "httpx",
    "httpcore",
    "aiohttp",
    "wordllama",
    "llama_cpp",
    "botocore",
    "json_repair",
    "platformdirs",
    "pydantic",
    "pydantic_core",
    "dspex_protocol.methods",
    "dspex_protocol.analytics",
    "dspex_protocol._base",
    "dspex_server.rpc",
    "dspex_server.services",
    "dspex_server.config",
    "dspex_server.pipeline",
    "dspex_server.store",
    "dspex_server.predict",
    "dspex_server.analytics",
    "dspex_server.catalog",
    "dspex_server.providers.table",
)
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


async def read_answer(stdout: asyncio.StreamReader, msg_id: int) -> Any:
    """The answer to request `msg_id` (notifications before it are skipped)."""
    while True:
        message = await read_frame(stdout)
        if message.get("id") == msg_id and "method" not in message:
            return message


async def read_frame(stdout: asyncio.StreamReader) -> Any:
    length = None
    while True:
        line = await stdout.readline()
        assert line, "the daemon closed stdout"
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    assert length is not None
    return json.loads(await stdout.readexactly(length))


def imported(stderr: str) -> set[str]:
    return {m.group(1) for line in stderr.splitlines() if (m := IMPORT_LINE.match(line))}


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


async def run_daemon(tmp_path: Path, messages: list[dict[str, Any]]) -> tuple[list[Any], str]:
    """Send `initialize` (with options), then `messages`, then `shutdown` and `exit`; the
    answers to the requests, and the daemon's `-X importtime` report."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "dspex_server",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stderr = asyncio.ensure_future(proc.stderr.read())
    answers = []
    try:
        init = {
            "processId": None,
            "capabilities": {},
            "initializationOptions": {"defaultProvider": "mock"},
        }
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
        answers.append(await asyncio.wait_for(read_answer(proc.stdout, 0), 60))
        for message in messages:
            proc.stdin.write(frame(message))
            if "id" in message:
                answers.append(await asyncio.wait_for(read_answer(proc.stdout, message["id"]), 60))
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 99, "method": "shutdown"}))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        await proc.stdin.drain()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return answers, (await stderr).decode(errors="replace")


async def test_initialize_is_answered_before_anything_heavy_is_imported(tmp_path: Path) -> None:
    (answer,), report = await run_daemon(tmp_path, [])
    capabilities = answer["result"]["capabilities"]
    assert capabilities["executeCommandProvider"]["commands"] == list(COMMAND_NAMES)
    dspex = capabilities["experimental"]["dspex"]
    assert dspex["methods"] == list(METHOD_NAMES)
    assert dspex["providers"] == list(PROVIDER_NAMES)
    modules = imported(report)
    # The report was read: the daemon's own light modules are in it.
    assert {"lsprotocol.types", "dspex_server.app", "dspex_protocol.names"} <= modules
    assert heavy_in(modules) == []


async def test_the_first_message_after_initialize_loads_the_services(tmp_path: Path) -> None:
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 1, "method": "dspex/config"},
    ]
    (_, config), report = await run_daemon(tmp_path, messages)
    # The initializationOptions given to `initialize` are in force once loaded.
    assert config["result"]["config"]["defaultProvider"] == "mock"
    assert "initializationOptions" in config["result"]["sources"]
    modules = imported(report)
    assert {"dspex_server.services", "dspex_server.rpc", "pydantic"} <= modules
    # Loaded, but still lazy where the features are (numpy, prices, the store's database).
    assert not {"numpy", "genai_prices", "wordllama", "llama_cpp", "botocore"} & modules


async def test_a_request_without_initialized_is_answered(tmp_path: Path) -> None:
    messages = [{"jsonrpc": "2.0", "id": 1, "method": "dspex/providers"}]
    (_, providers), _ = await run_daemon(tmp_path, messages)
    names = [p["name"] for p in providers["result"]["providers"]]
    assert names == list(PROVIDER_NAMES)


def test_the_light_name_lists_match_what_loading_registers() -> None:
    assert tuple(spec.name for spec in ALL) == METHOD_NAMES
    assert tuple(p.name for p in PROVIDERS) == PROVIDER_NAMES
    cold = DspexServer()

    def never(server: DspexServer) -> Any:
        raise AssertionError("capabilities must not load the services")

    cold.loader = never
    assert not cold.loaded
    before = cold.capabilities_wire()
    server, _ = build_server()
    assert sorted(server.methods) == sorted(METHOD_NAMES)
    assert sorted(server.protocol.fm.commands) == sorted(COMMAND_NAMES)
    assert server.capabilities().to_wire() == before == server.capabilities_wire()


def test_every_protocol_export_is_declared_and_resolves() -> None:
    tree = ast.parse(Path(dspex_protocol.__file__).read_text())
    declared: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If):  # the `if TYPE_CHECKING:` block
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                declared.update(alias.asname or alias.name for alias in imp.names)
    assert declared == set(dspex_protocol.__all__)
    code = (
        "import dspex_protocol as p, sys\n"
        "missing = [n for n in p.__all__ if getattr(p, n, None) is None]\n"
        "print(missing)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
