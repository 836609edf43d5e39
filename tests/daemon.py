"""Start the real daemon (`python -m dspex_server`) over stdio and talk to it with a
pytest-lsp client whose params and results stay plain dicts."""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)
from pytest_lsp import LanguageClient
from pytest_lsp.client import register_lsp_features

# Environment variables that would leak the developer's real setup into a test daemon.
PROVIDER_ENV_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "GOOGLE_",
    "GROQ_",
    "MISTRAL_",
    "PERPLEXITY_",
    "OPENROUTER_",
    "XAI_",
    "OLLAMA_",
    "LMSTUDIO_",
    "AWS_",
    "BEDROCK_",
    "DSPEX_",
)


# For tests of how one provider answer maps to an error: no retries, and no circuit breaker
# that the error tests would open for the tests after them in a shared daemon.
SINGLE_ATTEMPT: dict[str, Any] = {"retry": {"attempts": 1}, "circuit": {"enabled": False}}


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PROVIDER_ENV_PREFIXES)}
    config = tmp_path / "dspex-config.toml"  # empty unless a test writes it
    if not config.exists():  # a DSPEX_CONFIG naming a missing file is an error
        config.write_text("", encoding="utf-8")
    env["DSPEX_CONFIG"] = str(config)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env.update(overrides)
    return env


def _dict_converter() -> Any:
    converter = default_converter()
    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(cls, lambda obj, c: c(**obj))
    return converter


class Daemon:
    """A running daemon and the client connected to it."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.partials: dict[Any, list[Any]] = defaultdict(list)
        self.notifications: list[tuple[str, Any]] = []
        self.initialize_result: Any = None

    async def request(self, method: str, params: Any = None) -> Any:
        return await self.client.protocol.send_request_async(method, params)

    def notify(self, method: str, params: Any = None) -> None:
        """A notification with plain-JSON params (pygls would structure LSP methods' params)."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.client.protocol._send_data(message)


def make_client(
    daemon_ref: list[Daemon],
    configuration: dict[str, Any] | None = None,
) -> LanguageClient:
    client = LanguageClient(converter_factory=_dict_converter, configuration=configuration)
    register_lsp_features(client)

    features = client.protocol.fm.features
    work_done = features[types.PROGRESS]

    def on_progress(params: Any) -> Any:
        # Partial results (`$/progress` on a partialResultToken) are collected here;
        # pytest-lsp's own handler would fail the test on them. Work-done progress
        # (values with a `kind`) still goes to it.
        value = params.value
        if isinstance(value, dict) and value.get("kind") in ("begin", "report", "end"):
            return work_done(params)
        daemon_ref[0].partials[params.token].append(value)
        return None

    features[types.PROGRESS] = on_progress

    return client


@asynccontextmanager
async def start_daemon(
    env: dict[str, str],
    initialization_options: Any = None,
    capabilities: types.ClientCapabilities | None = None,
    configuration: dict[str, Any] | None = None,
) -> AsyncIterator[Daemon]:
    """`configuration` is what the client answers to `workspace/configuration`."""
    holder: list[Daemon] = []
    client = make_client(holder, configuration)
    daemon = Daemon(client)
    holder.append(daemon)
    await client.start_io(sys.executable, "-m", "dspex_server", env=env)
    try:
        daemon.initialize_result = await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or types.ClientCapabilities(),
                initialization_options=initialization_options,
            )
        )
        yield daemon
    finally:
        await client.shutdown_session()
