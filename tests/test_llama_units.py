"""The llama provider's pieces that need no model: stop sequences in a token stream, tool
calls read from free text, the forced-call schema, and the GGUF header reader."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from tiny_gguf import CONTEXT_LENGTH, N_EMBD

from dspex_protocol import NamedToolChoice, ToolDefinition
from dspex_server.errors import DspexError
from dspex_server.providers.llama_format import (
    StopScanner,
    find_tool_calls,
    forced_tools,
    grammar_schema,
    may_be_tool_call,
    tool_call_schema,
)
from dspex_server.providers.llama_gguf import GGUFError, context_length, read_metadata
from dspex_server.providers.settings import LlamaSettings

WEATHER = ToolDefinition(
    name="get_weather",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
TIME = ToolDefinition(name="get_time", parameters={"type": "object", "properties": {}})


def feed_all(scanner: StopScanner, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, hit = scanner.feed(piece)
        out.append(text)
        if hit:
            return "".join(out), True
    return "".join(out) + scanner.flush(), False


def test_a_stop_sequence_split_across_tokens_ends_the_text_before_it() -> None:
    assert feed_all(StopScanner(["END"]), ["ab", "cE", "N", "Dzz"]) == ("abc", True)


def test_text_that_only_starts_like_a_stop_sequence_is_passed_on() -> None:
    scanner = StopScanner(["END"])
    assert scanner.feed("abE") == ("ab", False)  # held: it may become END
    assert scanner.feed("x") == ("Ex", False)
    assert feed_all(StopScanner(["END"]), ["abE"]) == ("abE", False)


def test_the_first_of_several_stop_sequences_wins() -> None:
    assert feed_all(StopScanner(["zz", "b"]), ["abczz"]) == ("a", True)


def test_tagged_tool_calls_are_read_from_free_text() -> None:
    text = (
        'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
    )
    assert find_tool_calls(text, [WEATHER]) == [("get_weather", {"city": "Paris"})]


def test_a_bare_json_call_with_parameters_is_read() -> None:
    text = '{"name": "get_weather", "parameters": "{\\"city\\": \\"Oslo\\"}"}'
    assert find_tool_calls(text, [WEATHER]) == [("get_weather", {"city": "Oslo"})]


def test_json_that_names_no_known_tool_is_text() -> None:
    assert find_tool_calls('{"name": "rm", "arguments": {}}', [WEATHER]) == []
    assert find_tool_calls('{"answer": 4}', [WEATHER]) == []
    assert find_tool_calls("just text", [WEATHER]) == []


def test_streamed_text_is_held_back_only_while_it_may_be_a_call() -> None:
    assert may_be_tool_call("  {") and may_be_tool_call("<tool_") and may_be_tool_call("")
    assert not may_be_tool_call("Hello") and not may_be_tool_call("<b>")


def test_forced_tools_follow_tool_choice() -> None:
    assert forced_tools([WEATHER, TIME], "auto") is None
    assert forced_tools([WEATHER, TIME], "required") == [WEATHER, TIME]
    assert forced_tools([WEATHER, TIME], NamedToolChoice(name="get_time")) == [TIME]
    with pytest.raises(DspexError):
        forced_tools([WEATHER], NamedToolChoice(name="nope"))


def test_the_forced_call_schema_accepts_only_a_call_of_a_given_tool() -> None:
    schema = tool_call_schema([WEATHER, TIME])
    jsonschema.validate({"name": "get_weather", "arguments": {"city": "x"}}, schema)
    jsonschema.validate({"name": "get_time", "arguments": {}}, schema)
    for bad in (
        {"name": "get_weather", "arguments": {}},
        {"name": "other", "arguments": {}},
        {"name": "get_time"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_the_gguf_header_gives_the_training_context_length(tiny_gguf: Path) -> None:
    metadata = read_metadata(tiny_gguf)
    assert metadata["general.architecture"] == "llama"
    assert metadata["llama.embedding_length"] == N_EMBD
    assert context_length(metadata) == CONTEXT_LENGTH
    assert "tokenizer.ggml.tokens" not in metadata  # arrays are skipped


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(GGUFError):
        read_metadata(bogus)
    bogus.write_bytes(b"GGUF\x03\x00\x00\x00\x00")
    with pytest.raises(GGUFError):
        read_metadata(bogus)


def test_the_default_model_is_the_model_path_stem_or_the_first_named_model() -> None:
    by_path = LlamaSettings(model_path="~/models/Qwen2.5-0.5B.Q4.gguf")
    assert by_path.default_model == by_path.default_embedding_model == "Qwen2.5-0.5B.Q4"
    named = LlamaSettings.model_validate({"models": {"phi": {"path": "/m/phi.gguf"}}})
    assert named.default_model == "phi"


def test_a_model_needs_exactly_one_source() -> None:
    from pydantic import ValidationError

    for bad in ({}, {"path": "/a.gguf", "hfRepo": "x/y", "hfFile": "z"}, {"hfRepo": "x/y"}):
        with pytest.raises(ValidationError):
            LlamaSettings.model_validate({"models": {"m": bad}})


def test_small_integer_ranges_become_enums_for_the_grammar() -> None:
    schema = {
        "type": "object",
        "properties": {
            "stars": {"type": "integer", "minimum": 1, "maximum": 5, "description": "d"},
            "even": {"type": "integer", "exclusiveMinimum": 0, "maximum": 8, "multipleOf": 2},
            "big": {"type": "integer", "minimum": 0, "maximum": 10_000},
            "open": {"type": "integer", "minimum": 3},
        },
    }
    props = grammar_schema(schema)["properties"]
    assert props["stars"] == {"description": "d", "enum": [1, 2, 3, 4, 5]}
    assert props["even"] == {"enum": [2, 4, 6, 8]}
    assert props["big"] == schema["properties"]["big"]  # too many values: left as it is
    assert props["open"] == schema["properties"]["open"]


def test_a_hugging_face_model_is_fetched_by_repo_and_file(
    monkeypatch: pytest.MonkeyPatch, tiny_gguf: Path
) -> None:
    """No network in tests: the download function is replaced, the mapping is real."""
    import huggingface_hub

    from dspex_server.providers.llama_engine import ModelSource, _local_path

    asked: list[tuple[str, str]] = []

    def download(*, repo_id: str, filename: str) -> str:
        asked.append((repo_id, filename))
        return str(tiny_gguf)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    source = ModelSource("qwen", None, hf_repo="Qwen/Qwen2.5-0.5B-GGUF", hf_file="q4.gguf")
    assert _local_path(source) == str(tiny_gguf)
    assert asked == [("Qwen/Qwen2.5-0.5B-GGUF", "q4.gguf")]

    def offline(*, repo_id: str, filename: str) -> str:
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(DspexError) as info:
        _local_path(source)
    assert info.value.kind.value == "network_error"
    assert "q4.gguf" in info.value.message and "Qwen/Qwen2.5-0.5B-GGUF" in info.value.message
