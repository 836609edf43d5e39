"""A config file with an error is refused loudly (issue 20): every refused key is named as
the file writes it, with its line; the daemon keeps the settings it had, says so in
`dspex/config` and `window/showMessage`, and never answers from the mock instead."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest
from daemon import start_daemon
from fakes.openai_server import FakeOpenAI
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pytest_lsp import LanguageClient

from dspex_server.config import ConfigStore
from dspex_server.config_file import key_lines, line_of

USER = [{"role": "user", "content": "hello"}]

TYPO = """\
# a user's config
[providers.openai]
api_key = "sk-file-key-0123456789"
defualt_model = "gpt-4o-mini"
"""


async def shown(client: LanguageClient) -> list[types.ShowMessageParams]:
    for _ in range(100):
        if client.messages:
            break
        await asyncio.sleep(0.05)
    return list(client.messages)


async def test_a_typo_in_the_file_is_named_with_its_line_and_as_written(
    env: dict[str, str],
) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(TYPO, encoding="utf-8")
    async with start_daemon(env) as d:
        config = await d.request("dspex/config", {})
        problem = f"{env['DSPEX_CONFIG']}:4: providers.openai.defualt_model: unknown key"
        assert [p.split(" (")[0] for p in config["config"]["problems"]] == [problem]
        assert "did you mean default_model?" in config["config"]["problems"][0]
        messages = await shown(d.client)
        assert messages and messages[0].type == types.MessageType.Error
        assert problem in messages[0].message
        assert "sk-file-key" not in str(config) + messages[0].message


async def test_a_refused_file_never_lets_the_mock_answer_in_its_place(env: dict[str, str]) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(TYPO, encoding="utf-8")
    async with start_daemon(env) as d:
        with pytest.raises(Exception) as raised:
            await d.request("dspex/chat", {"messages": USER})
        data = getattr(raised.value, "data", None) or {}
        assert data.get("kind") == "invalid_config"
        assert "defualt_model" in data.get("message", "")
        # A request that names its provider is still served.
        result = await d.request("dspex/chat", {"messages": USER, "provider": "mock"})
        assert result["choices"][0]["message"]["content"] == "hello"


async def test_a_missing_dspex_config_file_is_an_error(env: dict[str, str]) -> None:
    Path(env["DSPEX_CONFIG"]).unlink()
    async with start_daemon(env) as d:
        config = await d.request("dspex/config", {})
        assert config["config"]["problems"] == [
            f"{env['DSPEX_CONFIG']}: no such file (named by DSPEX_CONFIG; unset it or "
            "create the file)"
        ]


async def test_the_file_is_refused_whole_and_the_previous_settings_stay(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    env = {
        **env,
        "OPENAI_API_KEY": fake_openai.api_key or "",
        "OPENAI_BASE_URL": fake_openai.api_base,
    }
    Path(env["DSPEX_CONFIG"]).write_text(
        '[providers.openai]\ndefault_model = "file-model"\ntimeout_ms = "soon"\n', encoding="utf-8"
    )
    async with start_daemon(env) as d:
        config = await d.request("dspex/config", {})
        assert config["config"]["problems"][0].startswith(
            f"{env['DSPEX_CONFIG']}:3: providers.openai.timeout_ms: "
        )
        assert config["sources"] == ["defaults", "environment"]
        result = await d.request("dspex/chat", {"messages": USER})
        assert result["provider"] == "openai"  # the environment's settings, not the file's
        assert fake_openai.requests[-1].body["model"] != "file-model"


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ('log_level = "chatty"\n', 1, "log_level"),
        ("\n[retry]\nattempts = 1\natempts = 2\n", 4, "retry.atempts"),
        ("[providers.mock]\nmode = 'psychic'\n", 2, "providers.mock.mode"),
        ("[providers.nosuch]\nx = 1\n", 1, "providers.nosuch"),
        (
            '[[providers.mock.errors]]\nkind = "timeout"\n[[providers.mock.errors]]\nkind = "no"\n',
            4,
            "providers.mock.errors[1].kind",
        ),
        ("providers.mock.latency_ms = -1\n", 1, "providers.mock.latency_ms"),
        (
            "[analytics.semantic_cache]\nenabled = true\nthreshold = 7\n",
            3,
            "analytics.semantic_cache.threshold",
        ),
        ('[store]\nlogRequests = "maybe"\n', 2, "store.logRequests"),
        ("a = 1\nb = = 2\n", 2, "b"),
    ],
)
def test_every_refused_key_is_named_as_written_with_its_line(
    tmp_path: Path, text: str, line: int, key: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    config = ConfigStore({"DSPEX_CONFIG": str(path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert config.problems, text
    assert config.problems[0].startswith(f"{path}:{line}: {key}: "), config.problems


def test_an_unknown_section_of_any_name_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('default_provider = "mock"\n\n[nosuch_section]\nkey = 1\n', encoding="utf-8")
    config = ConfigStore({"DSPEX_CONFIG": str(path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert config.problems == [f"{path}:3: nosuch_section: unknown key"]


def test_key_lines_follow_tables_dotted_keys_and_arrays_of_tables() -> None:
    text = '[a]\nx = 1\n"y.z".w = 2\n[[b]]\nk = 1\n[[b]]\nk = 2\n'
    assert key_lines(text) == [
        (("a",), 1),
        (("a", "x"), 2),
        (("a", "y.z", "w"), 3),
        (("b", 0), 4),
        (("b", 0, "k"), 5),
        (("b", 1), 6),
        (("b", 1, "k"), 7),
    ]
    assert line_of(text, ("b", 1, "k")) == 7
    assert line_of(text, ("b", 1, "missing")) == 6
    assert line_of(text, ("nowhere",)) == 1


NAME = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    top=st.dictionaries(NAME, st.integers(), max_size=3),
    tables=st.dictionaries(
        st.lists(NAME, min_size=1, max_size=3).map(tuple),
        st.dictionaries(NAME, st.integers(), max_size=4),
        max_size=4,
    ),
)
def test_key_lines_find_every_key_of_a_rendered_document(
    top: dict[str, int], tables: dict[tuple[str, ...], dict[str, int]]
) -> None:
    lines: list[str] = []
    where: dict[tuple[str | int, ...], int] = {}
    for key, value in top.items():
        lines.append(f"{key} = {value}  # a comment")
        where[(key,)] = len(lines)
    for path, keys in tables.items():
        if any(path[: i + 1] in where for i in range(len(path))):
            continue  # a key of that name already exists: not a valid document
        lines.append("")
        lines.append(f"[ {'.'.join(path)} ]")
        where[path] = len(lines)
        for key, value in keys.items():
            lines.append(f"  {key}={value}")
            where[(*path, key)] = len(lines)
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # e.g. a table defined twice through a prefix: not ours to locate
    found = dict(key_lines(text))
    for path, line in where.items():
        assert found[path] == line
        assert line_of(text, (*path, "below")) == line
