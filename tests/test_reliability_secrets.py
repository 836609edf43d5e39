"""Secrets: API keys set in the environment, the config file and initializationOptions never
appear in anything the daemon writes (stdout: answers, errors, progress, telemetry,
`dspex/config`; stderr: logs at debug level), whichever error path a request takes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fakes.base import ConnectionReset, Garbage, HttpError, Reply, SlowStream, TruncatedStream
from fakes.openai_server import FakeOpenAI, openai_error
from raw_daemon import raw_daemon
from reliability_support import chat_params, eventually

KEY_ENV = "sk-env-SECRET-0a1b2c3d4e5f"
KEY_FILE = "sk-file-SECRET-6a7b8c9d0e1f"
KEY_INIT = "sk-init-SECRET-2a3b4c5d6e7f"
KEY_MOCK = "sk-mock-SECRET-8a9b0c1d2e3f"
SECRETS = (KEY_ENV, KEY_FILE, KEY_INIT, KEY_MOCK)


def faults() -> list[object]:
    echo = f"Incorrect API key provided: {KEY_INIT}. You can find your API key at ..."
    return [
        openai_error(401, echo, "invalid_request_error", "invalid_api_key"),
        openai_error(500, f"internal error for key {KEY_INIT}", "server_error"),
        HttpError(502, f"<html>bad gateway {KEY_INIT}</html>", content_type="text/html"),
        openai_error(503, "unavailable", "server_error"),
        HttpError(
            529, {"type": "error", "error": {"type": "overloaded_error", "message": KEY_INIT}}
        ),
        openai_error(429, f"rate limit for {KEY_INIT}", "requests", headers={"Retry-After": "0"}),
        openai_error(400, f"bad request {KEY_INIT}", "invalid_request_error"),
        ConnectionReset(),
        Reply(text="late", delay_s=2.0),
        Garbage(body=f"{{not json {KEY_INIT}", content_type="application/json"),
        Garbage(body=f"<html>{KEY_INIT}</html>"),
    ]


@pytest.fixture
def file_env(env: dict[str, str]) -> dict[str, str]:
    """The environment, with a config file that holds a key of its own."""
    Path(env["DSPEX_CONFIG"]).write_text(
        f'telemetry = true\n[providers.openai]\napi_key = "{KEY_FILE}"\n'
    )
    return env


async def test_no_secret_in_any_output(file_env: dict[str, str]) -> None:
    async with FakeOpenAI(api_key=KEY_INIT) as fake:
        env = {
            **file_env,
            "OPENAI_API_KEY": KEY_ENV,
            "OPENAI_BASE_URL": fake.api_base,
            "DSPEX_LOG_LEVEL": "debug",
        }
        opts = {
            "telemetry": True,
            "retry": {"attempts": 2, "baseMs": 1, "capMs": 2},
            "circuit": {"failureThreshold": 1000},
            "providers": {
                "openai": {"apiKey": KEY_INIT, "timeoutMs": 300},
                "mock": {
                    "apiKey": KEY_MOCK,
                    "errors": [{"kind": "api_error", "status": 503, "times": 3}],
                },
            },
        }
        async with raw_daemon(env, opts) as d:
            for fault in faults():
                for stream in (False, True):
                    fake.script.clear()
                    fake.queue(fault, fault)  # type: ignore[arg-type]
                    extra = {"partialResultToken": "p"} if stream else {}
                    await d.request("dspex/chat", chat_params(provider="openai", **extra))
            fake.script.clear()
            fake.queue(TruncatedStream())
            await d.request("dspex/chat", chat_params(provider="openai", partialResultToken="t"))
            # cancellation mid-stream
            fake.queue(SlowStream(chunks=100, interval_s=0.02))
            msg_id = d.send_request(
                "dspex/chat", chat_params(provider="openai", partialResultToken="c")
            )
            await eventually(lambda: fake.chunks_sent >= 2)
            d.cancel(msg_id)
            await d.answer(msg_id)
            # mock errors, circuit open, bad params, unknown provider, bad config
            for _ in range(3):
                await d.request("dspex/chat", chat_params(provider="mock"))
            await d.request("dspex/chat", {"messages": KEY_INIT, "provider": KEY_INIT})
            await d.request("dspex/chat", chat_params(provider="nope"))
            await d.request("dspex/chat", chat_params(KEY_INIT, provider="mock"))
            await d.request("dspex/embed", {"inputs": ["x"], "provider": "openai"})
            d.notify(
                "workspace/didChangeConfiguration",
                {"settings": {"providers": {"openai": {"apiKey": KEY_INIT, "bogus": KEY_INIT}}}},
            )
            d.notify("workspace/didChangeConfiguration", {"settings": {"retry": KEY_INIT}})
            config = await d.result("dspex/config")
            assert config["config"]["providers"]["openai"]["apiKey"] == "<redacted>"
            await d.result("dspex/providers")
            await d.result("dspex/stats")
            await asyncio.sleep(0.2)
        # The prompt that quoted a key comes back in its own answer (the mock echoes it);
        # drop exactly that answer and its progress, nothing else.
        output = bytes(d.stdout)
        for echoed in (f'"content": "{KEY_INIT}"', f'"content":"{KEY_INIT}"'):
            output = output.replace(echoed.encode(), b"")
        telemetry = [n for n in d.notifications if n["method"] == "dspex/telemetry"]
        assert len(telemetry) >= 40
        assert fake.requests and all(
            r.headers.get("Authorization") == f"Bearer {KEY_INIT}" for r in fake.requests
        )
        for secret in SECRETS:
            at = output.find(secret.encode())
            assert at < 0, output[max(0, at - 400) : at + 100]
            assert secret.encode() not in output, f"{secret[:7]}… leaked on stdout"
            assert secret.encode() not in bytes(d.stderr), f"{secret[:7]}… leaked on stderr"
