"""Batches through the CLI: JSON lines in, one JSON line out per input, in order."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import run_cli

MOCK_JSON = """
[providers.mock]
mode = "fixed"
reply = '{"sentiment": "positive"}'
"""


async def test_a_thousand_line_predict_batch_keeps_order_and_reports_bad_lines(
    env: dict[str, str],
) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(MOCK_JSON, encoding="utf-8")
    lines = []
    for i in range(1000):
        if i % 10 == 3:
            lines.append("{not json")
        elif i % 10 == 7:
            lines.append(json.dumps({"wrong_field": f"review {i}"}))
        else:
            lines.append(json.dumps({"text": f"review {i}"}))
    code, out, err = await run_cli(
        env,
        "predict",
        "text -> sentiment",
        "--provider",
        "mock",
        "--concurrency",
        "16",
        stdin="\n".join(lines) + "\n",
        timeout=300,
    )
    assert code == 5  # partial batch failure
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 1000
    for i, result in enumerate(results):
        if i % 10 == 3:
            assert result["error"]["kind"] == "invalid_input_line"
            assert result["error"]["line"] == i + 1
        elif i % 10 == 7:
            assert result["error"]["kind"] == "invalid_params", result
            assert result["error"]["line"] == i + 1
        else:
            assert result["outputs"] == {"sentiment": "positive"}, result
    assert err.count("\n") == 200  # one stderr line per failed input


async def test_chat_jsonl_answers_each_line_in_order(env: dict[str, str]) -> None:
    stdin = "\n".join(json.dumps({"prompt": f"q{i}"}) for i in range(50)) + "\n"
    code, out, _ = await run_cli(env, "chat", "--jsonl", "--provider", "mock", stdin=stdin)
    assert code == 0
    answers = [json.loads(line)["choices"][0]["message"]["content"] for line in out.splitlines()]
    assert answers == [f"q{i}" for i in range(50)]


async def test_rate_limited_lines_wait_and_retry(env: dict[str, str]) -> None:
    Path(env["DSPEX_CONFIG"]).write_text(
        """
[[providers.mock.errors]]
kind = "rate_limited"
times = 2
retry_after_ms = 200
""",
        encoding="utf-8",
    )
    stdin = "\n".join(json.dumps({"prompt": f"q{i}"}) for i in range(4)) + "\n"
    code, out, _ = await run_cli(
        env, "chat", "--jsonl", "--provider", "mock", "--concurrency", "1", stdin=stdin
    )
    assert code == 0
    assert len(out.splitlines()) == 4
