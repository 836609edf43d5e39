"""The protocol package: JSON Schema export, the generated reference, model round trips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_protocol import METHODS, ChatParams, ChatResult, ErrorKind
from dspex_protocol.errors import ERROR_CODES
from dspex_protocol.schema import full_schema, markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_method_has_a_params_and_result_schema() -> None:
    schema = full_schema()
    assert set(schema["methods"]) == set(METHODS)
    for entry in schema["methods"].values():
        assert entry["params"]["type"] == "object"
        assert entry["result"]["type"] == "object"
    chat = schema["methods"]["dspex/chat"]
    assert "partialResultToken" in chat["params"]["properties"]  # camelCase on the wire
    assert "finishReason" in json.dumps(chat["result"])


def test_schema_command_writes_one_file_per_method(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "dspex_protocol.schema", "--out", str(tmp_path)], check=True
    )
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {name.replace("/", "_") + ".json" for name in METHODS}


def test_docs_protocol_md_is_generated_from_the_models() -> None:
    checked_in = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert checked_in == markdown(), (
        "docs/protocol.md is stale: run python -m dspex_protocol.schema --markdown docs/protocol.md"
    )


def test_error_codes_are_distinct_and_in_the_server_range() -> None:
    codes = [
        c
        for k, c in ERROR_CODES.items()
        if k not in (ErrorKind.CANCELLED, ErrorKind.INTERNAL_ERROR)
    ]
    assert len(set(codes)) == len(codes)
    assert all(-32099 <= c <= -32000 for c in codes)


texts = st.text(max_size=50)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": texts}
)
chat_params = st.fixed_dictionaries(
    {"messages": st.lists(message, min_size=1, max_size=5)},
    optional={
        "provider": st.sampled_from(["openai", "mock", "anthropic"]),
        "model": texts,
        "temperature": st.floats(0, 2),
        "maxTokens": st.integers(1, 100_000),
        "stop": st.lists(texts, max_size=3),
        "partialResultToken": st.one_of(st.integers(), texts),
    },
)


@settings(max_examples=300, deadline=None)
@given(chat_params)
def test_chat_params_round_trip_through_the_wire_form(raw: dict[str, object]) -> None:
    params = ChatParams.model_validate(raw)
    again = ChatParams.model_validate(params.to_wire())
    assert again == params


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=10),
        st.one_of(st.none(), st.integers(), texts, st.lists(st.integers())),
        max_size=6,
    )
)
def test_arbitrary_objects_either_validate_or_raise_validation_errors(
    raw: dict[str, object],
) -> None:
    from pydantic import ValidationError

    try:
        ChatParams.model_validate(raw)
    except ValidationError as exc:
        assert exc.errors()


def test_chat_result_serialises_in_camel_case() -> None:
    result = ChatResult.model_validate(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "x"},
                    "finishReason": "stop",
                }
            ],
            "usage": {"promptTokens": 1, "completionTokens": 2, "totalTokens": 3},
            "provider": "mock",
            "model": "m",
            "correlationId": "c",
            "latencyMs": 1.5,
        }
    )
    wire = result.to_wire()
    assert set(wire) == {"choices", "usage", "provider", "model", "correlationId", "latencyMs"}
    assert wire["choices"][0]["finishReason"] == "stop"
