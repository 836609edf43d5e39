"""The default (mock) provider answers what it is asked: `dspex predict` on a fresh
install with no keys, through the CLI and the daemon, and forced tool calls whose
arguments validate against the tool's schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from daemon import Daemon, clean_env
from provider_checks import stream_chat, streamed_tool_fragments

CLI = [sys.executable, "-c", "from dspex_client.cli import run_main; run_main()"]
SEED = "text -> sentiment, confidence, reasoning"


def dspex(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return subprocess.run(
        [*CLI, *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_seed_example_succeeds_on_the_default_provider(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    done = dspex(env, "predict", SEED, "-i", "text=I love programming in Elixir", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["provider"] == "mock" and result["attempts"] == 1
    outputs = result["outputs"]
    assert set(outputs) == {"sentiment", "confidence", "reasoning"}
    assert all(isinstance(v, str) and v for v in outputs.values())
    plain = dspex(env, "predict", SEED, "-i", "text=I love programming in Elixir")
    assert plain.returncode == 0, plain.stderr
    assert [line.split(":")[0] for line in plain.stdout.splitlines()] == [
        "sentiment",
        "confidence",
        "reasoning",
    ]


def test_a_thousand_line_batch_succeeds_on_the_default_provider(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    signature = "text -> label: Literal['pos', 'neg'], score: float, words: list[str]"
    stdin = "".join(
        json.dumps({"text": f"review number {i} of Elixir"}) + "\n" for i in range(1000)
    )
    done = dspex(env, "predict", signature, stdin=stdin)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 1000
    assert all("error" not in line for line in lines)
    for line in lines:
        out = line["outputs"]
        assert out["label"] in ("pos", "neg")
        assert isinstance(out["score"], float)
        assert isinstance(out["words"], list) and all(isinstance(w, str) for w in out["words"])
    # Strings come from the input: different lines, different answers.
    assert len({json.dumps(line["outputs"]) for line in lines}) > 900


async def test_structured_predict_with_chain_of_thought_on_the_mock(daemon: Daemon) -> None:
    signature = (
        "question: str, n: int -> answer: int, verdict: Literal['yes', 'no'], "
        "items: list[str], detail: dict[str, float]"
    )
    results = []
    for question in ("Is Elixir fun?", "Is Erlang old?"):
        result = await daemon.request(
            "dspex/predict",
            {
                "signature": signature,
                "inputs": {"question": question, "n": 3},
                "chainOfThought": True,
            },
        )
        assert result["provider"] == "mock" and result["attempts"] == 1
        assert result["mode"] == "structured"
        out = result["outputs"]
        assert set(out) == {"reasoning", "answer", "verdict", "items", "detail"}
        assert isinstance(out["reasoning"], str) and out["reasoning"]
        assert isinstance(out["answer"], int) and out["verdict"] in ("yes", "no")
        assert any("mock" in n for n in result["notices"])  # it says it is the mock
        results.append(out)
    assert results[0] != results[1]


async def test_json_mode_predict_on_the_mock(daemon: Daemon) -> None:
    result = await daemon.request(
        "dspex/predict",
        {"signature": SEED, "inputs": {"text": "I love Elixir"}, "mode": "json"},
    )
    assert set(result["outputs"]) == {"sentiment", "confidence", "reasoning"}


def chat(**extra: Any) -> dict[str, Any]:
    return {"provider": "mock", "messages": [{"role": "user", "content": "book a flight"}], **extra}


TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 3, "maxLength": 20},
        "seats": {"type": "integer", "minimum": 1, "maximum": 9},
        "class": {"enum": ["economy", "business"]},
        "legs": {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "items": {"$ref": "#/$defs/Leg"},
        },
    },
    "required": ["city", "seats", "class", "legs"],
    "additionalProperties": False,
    "$defs": {
        "Leg": {
            "type": "object",
            "properties": {"from": {"type": "string"}, "day": {"const": "monday"}},
            "required": ["from", "day"],
        }
    },
}
TOOLS = [
    {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
    {"name": "book", "parameters": TOOL_SCHEMA},
]


async def test_forced_tool_calls_have_schema_valid_arguments(daemon: Daemon) -> None:
    named = await daemon.request("dspex/chat", chat(tools=TOOLS, toolChoice={"name": "book"}))
    (call,) = named["choices"][0]["message"]["toolCalls"]
    assert call["name"] == "book"
    jsonschema.validate(call["arguments"], TOOL_SCHEMA)
    assert len(call["arguments"]["legs"]) >= 2

    required = await daemon.request("dspex/chat", chat(tools=TOOLS[1:], toolChoice="required"))
    (call,) = required["choices"][0]["message"]["toolCalls"]
    jsonschema.validate(call["arguments"], TOOL_SCHEMA)

    auto = await daemon.request("dspex/chat", chat(tools=TOOLS, toolChoice="auto"))
    assert auto["choices"][0]["message"]["content"] == "book a flight"  # echo, unchanged


async def test_a_json_schema_response_format_gets_a_valid_object(daemon: Daemon) -> None:
    answers = []
    for text in ("book a flight", "rent a car"):
        result = await daemon.request(
            "dspex/chat",
            {
                "messages": [{"role": "user", "content": text}],
                "responseFormat": {"type": "json_schema", "name": "out", "schema": TOOL_SCHEMA},
            },
        )
        value = json.loads(result["choices"][0]["message"]["content"])
        jsonschema.validate(value, TOOL_SCHEMA)
        assert any("mock" in n for n in result["notices"])  # it still says it is the mock
        answers.append(value)
    assert answers[0] != answers[1]
    echoed = await daemon.request("dspex/chat", chat())
    assert echoed["choices"][0]["message"]["content"] == "book a flight"


async def test_text_mode_predict_on_the_mock_answers_the_field_markers(daemon: Daemon) -> None:
    signature = (
        "text -> label: Literal['pos', 'neg'], n: int, tags: list[str], "
        "maybe: Optional[float], sentiment"
    )
    result = await daemon.request(
        "dspex/predict", {"signature": signature, "inputs": {"text": "hi"}, "mode": "text"}
    )
    assert result["strategy"] == "text" and result["attempts"] == 1
    out = result["outputs"]
    assert out["label"] == "pos" and isinstance(out["n"], int)
    assert isinstance(out["tags"], list) and isinstance(out["maybe"], float)
    assert "[[ ## completed ## ]]" in result["rawAnswer"]


async def test_a_streamed_forced_tool_call_carries_the_same_valid_arguments(
    daemon: Daemon,
) -> None:
    params = chat(tools=TOOLS, toolChoice={"name": "book"})
    del params["provider"]
    result, partials = await stream_chat(daemon, "mock", **params)
    fragments = streamed_tool_fragments(partials)
    assert [f["name"] for f in fragments if f.get("name")] == ["book"]
    arguments = json.loads("".join(f.get("arguments") or "" for f in fragments))
    jsonschema.validate(arguments, TOOL_SCHEMA)
    assert result["choices"][0]["message"]["toolCalls"][0]["arguments"] == arguments
