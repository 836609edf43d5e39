"""`dspex predict` as a subprocess: one prediction from --input, and JSON lines on stdin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from daemon import clean_env

CLI = [sys.executable, "-c", "from dspex_client.cli import run_main; run_main()"]
VALID = {"sentiment": "positive", "confidence": "high"}


def mock_env(tmp_path: Path, *replies: str) -> dict[str, str]:
    env = clean_env(tmp_path)
    quoted = ", ".join(json.dumps(r) for r in replies)
    Path(env["DSPEX_CONFIG"]).write_text(
        f'[providers.mock]\nmode = "cycle"\nreplies = [{quoted}]\n', encoding="utf-8"
    )
    return env


def dspex(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_predict_prints_the_output_fields(tmp_path: Path) -> None:
    env = mock_env(tmp_path, json.dumps(VALID))
    done = dspex(env, "predict", "text -> sentiment, confidence", "--input", "text=I love Elixir")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["sentiment: positive", "confidence: high"]


def test_predict_json_prints_the_whole_result(tmp_path: Path) -> None:
    env = mock_env(tmp_path, json.dumps(VALID))
    done = dspex(
        env, "predict", "text -> sentiment, confidence", "-i", "text=I love Elixir", "--json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outputs"] == VALID
    assert result["attempts"] == 1
    assert result["provider"] == "mock"


def test_json_lines_in_give_json_lines_out_in_order_with_per_line_errors(
    tmp_path: Path,
) -> None:
    env = mock_env(tmp_path, json.dumps(VALID))
    stdin = "\n".join(
        [
            json.dumps({"text": "one"}),
            "not json",
            "",
            json.dumps({"txt": "a typo"}),
            json.dumps({"text": "four"}),
        ]
    )
    done = dspex(env, "predict", "text -> sentiment, confidence", stdin=stdin + "\n")
    assert done.returncode == 5, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 4  # the blank line is not an input
    assert lines[0]["outputs"] == VALID
    assert lines[1]["error"]["line"] == 2
    assert lines[2]["error"]["kind"] == "invalid_params"
    assert lines[2]["error"]["line"] == 4
    assert lines[3]["outputs"] == VALID
    assert "error: invalid_params: line 4: " in done.stderr  # the one error form


def test_a_failed_prediction_exits_3_with_the_kind(tmp_path: Path) -> None:
    env = mock_env(tmp_path, '{"sentiment": "positive"}')
    done = dspex(
        env, "predict", "text -> sentiment, confidence", "-i", "text=x", "--max-retries", "0"
    )
    assert done.returncode == 3
    assert "missing_fields" in done.stderr
    assert done.stdout == ""


def test_a_malformed_signature_is_reported(tmp_path: Path) -> None:
    env = mock_env(tmp_path, json.dumps(VALID))
    done = dspex(env, "predict", "text sentiment", "-i", "text=x")
    assert done.returncode == 3
    assert "signature" in done.stderr and "->" in done.stderr


def test_options_that_do_not_validate_are_a_usage_error(tmp_path: Path) -> None:
    env = mock_env(tmp_path, json.dumps(VALID))
    done = dspex(env, "predict", "text -> sentiment", "-i", "text=x", "--max-retries", "99")
    assert done.returncode == 2
    assert "max_retries" in done.stderr or "maxRetries" in done.stderr
