"""No API key reaches the daemon's stderr, even with debug logging and failing requests."""

from __future__ import annotations

from pathlib import Path

from fakes.openai_server import FakeOpenAI, openai_error
from rawdaemon import RawDaemon, chat, initialize

ENV_KEY = "sk-env-SECRET-aaaaaaaaaaaa"
FILE_KEY = "sk-file-SECRET-bbbbbbbbbbbb"
INIT_KEY = "sk-init-SECRET-cccccccccccc"


async def test_keys_from_every_source_never_reach_stderr_or_answers(
    env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(
        f'[providers.openai]\napiKey = "{FILE_KEY}"\n', encoding="utf-8"
    )
    env = {
        **env,
        "OPENAI_API_KEY": ENV_KEY,
        "OPENAI_BASE_URL": fake_openai.api_base,
        "DSPEX_LOG_LEVEL": "debug",
    }
    fake_openai.api_key = INIT_KEY  # the key the daemon must use: the editor's
    # The provider quotes the key back in its error, as some do.
    fake_openai.queue(
        openai_error(
            401,
            f"Incorrect API key provided: {INIT_KEY}.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        openai_error(500, f"upstream failed for key {INIT_KEY}", "server_error"),
    )
    d = await RawDaemon.start(env)
    answers = []
    await d.send(initialize(options={"providers": {"openai": {"apiKey": INIT_KEY}}}))
    answers.append(await d.read_until_id(1))
    await d.send(
        chat(2),
        chat(3, partialResultToken="p"),
        chat(4, provider="nosuch"),
        {"jsonrpc": "2.0", "id": 5, "method": "dspex/config"},
        {"jsonrpc": "2.0", "id": 6, "method": "shutdown"},
    )
    by_id = await d.read_answers({2, 3, 4, 5, 6})
    answers += [by_id[i] for i in (2, 3, 4, 5, 6)]
    await d.send({"jsonrpc": "2.0", "method": "exit"})
    assert await d.wait() == 0
    stderr = await d.stderr()
    output = repr(answers) + stderr
    assert answers[1]["error"]["data"]["kind"] == "authentication"
    assert "<redacted>" in answers[1]["error"]["data"]["message"]
    for key in (ENV_KEY, FILE_KEY, INIT_KEY):
        assert key not in output
    # the key the daemon used was the editor's (initializationOptions beat file and env)
    assert fake_openai.requests[0].headers["Authorization"] == f"Bearer {INIT_KEY}"
