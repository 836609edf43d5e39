"""Configuration precedence: request > editor settings > TOML file > environment > defaults."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from daemon import start_daemon
from fakes.openai_server import FakeOpenAI
from lsprotocol import types

USER = [{"role": "user", "content": "hello"}]


def write_toml(env: dict[str, str], text: str) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(text, encoding="utf-8")


async def sent_model(daemon: object, fake: FakeOpenAI, **params: object) -> str:
    await daemon.request("dspex/chat", {"messages": USER, **params})  # type: ignore[attr-defined]
    return str(fake.requests[-1].body["model"])


async def test_each_layer_overrides_the_one_below(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }  # wrong: the file must win
    write_toml(
        env,
        f'''
[providers.openai]
base_url = "{fake_openai.api_base}"
default_model = "file-model"
''',
    )
    async with start_daemon(env) as d:
        assert await sent_model(d, fake_openai) == "file-model"
        d.notify(
            "workspace/didChangeConfiguration",
            {"settings": {"dspex": {"providers": {"openai": {"defaultModel": "ws-model"}}}}},
        )
        await asyncio.sleep(0.3)
        assert await sent_model(d, fake_openai) == "ws-model"
        assert await sent_model(d, fake_openai, model="request-model") == "request-model"
        config = await d.request("dspex/config", {})
        assert config["sources"] == [
            "defaults",
            "environment",
            f"file:{env['DSPEX_CONFIG']}",
            "workspace",
        ]


async def test_initialization_options_override_the_file(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    write_toml(
        env,
        f'''
[providers.openai]
apiKey = "{fake_openai.api_key}"
baseUrl = "{fake_openai.api_base}"
defaultModel = "file-model"
''',
    )
    options = {"providers": {"openai": {"defaultModel": "init-model"}}}
    async with start_daemon(env, initialization_options=options) as d:
        assert await sent_model(d, fake_openai) == "init-model"


async def test_config_redacts_every_secret(env: dict[str, str]) -> None:
    secret_env, secret_file, secret_init = (
        "sk-env-0123456789",
        "sk-file-0123456789",
        "sk-init-01234",
    )
    env = {**env, "OPENAI_API_KEY": secret_env}
    write_toml(env, f'[providers.openai]\napiKey = "{secret_file}"\n')
    async with start_daemon(
        env, initialization_options={"providers": {"openai": {"apiKey": secret_init}}}
    ) as d:
        config = await d.request("dspex/config", {})
        providers = await d.request("dspex/providers", {})
    text = json.dumps(config) + json.dumps(providers)
    for secret in (secret_env, secret_file, secret_init):
        assert secret not in text
    assert config["config"]["providers"]["openai"]["apiKey"] == "<redacted>"
    assert {p["name"]: p for p in providers["providers"]}["openai"]["configured"] is True


async def test_a_broken_config_file_is_reported_and_the_daemon_still_serves(
    env: dict[str, str],
) -> None:
    write_toml(env, "this is = = not toml")
    async with start_daemon(env) as d:
        config = await d.request("dspex/config", {})
        assert any(f"{env['DSPEX_CONFIG']}:1: " in p for p in config["config"]["problems"])
        # It serves what is asked of a provider by name; it does not pick one (issue 20).
        result = await d.request("dspex/chat", {"messages": USER, "provider": "mock"})
        assert result["provider"] == "mock"


@pytest.mark.parametrize(
    ("settings", "named_key"),
    [
        ({"providers": {"openai": {"timeoutMs": "soon"}}}, "providers.openai.timeoutMs"),
        ({"providers": {"nosuch": {}}}, "providers.nosuch"),
        ({"logLevel": "chatty"}, "logLevel"),
        ({"providers": {"mock": {"mode": "psychic"}}}, "providers.mock.mode"),
    ],
)
async def test_bad_editor_settings_name_the_key_and_keep_the_previous_config(
    env: dict[str, str], settings: dict[str, object], named_key: str
) -> None:
    async with start_daemon(
        env,
        initialization_options={"providers": {"mock": {"mode": "fixed", "reply": "still here"}}},
    ) as d:
        d.notify("workspace/didChangeConfiguration", {"settings": {"dspex": settings}})
        for _ in range(50):
            if d.client.messages:
                break
            await asyncio.sleep(0.05)
        assert d.client.messages, "the daemon must tell the editor about bad settings"
        message = d.client.messages[-1]
        assert message.type == types.MessageType.Warning
        assert named_key in message.message
        config = await d.request("dspex/config", {})
        assert any(named_key in p for p in config["config"]["problems"])
        result = await d.request("dspex/chat", {"messages": USER})
        assert result["choices"][0]["message"]["content"] == "still here"


async def test_workspace_configuration_is_pulled_from_editors_that_offer_it(
    env: dict[str, str],
) -> None:
    caps = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(configuration=True))
    async with start_daemon(
        env,
        capabilities=caps,
        configuration={
            "": {"dspex": {"providers": {"mock": {"mode": "fixed", "reply": "pulled"}}}}
        },
    ) as d:
        for _ in range(50):
            result = await d.request("dspex/chat", {"messages": USER})
            if result["choices"][0]["message"]["content"] == "pulled":
                break
            await asyncio.sleep(0.05)
        assert result["choices"][0]["message"]["content"] == "pulled"
