"""Signature parsing: the string form, the typed form, the JSON form, and their errors."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dspex_protocol import FieldSpec, SignatureSpec
from dspex_server.predict.model import build_model, json_schema
from dspex_server.predict.signature import (
    CONFIDENCE,
    SigField,
    Signature,
    SignatureError,
    TypeExpr,
    format_signature,
    load_signature,
    output_field,
    parse_signature,
    parse_type,
    signature_from_spec,
    signature_to_spec,
)


def test_string_form_names_inputs_and_outputs() -> None:
    sig = parse_signature("question, context -> answer")
    assert sig.input_names == ["question", "context"]
    assert sig.output_names == ["answer"]
    assert all(f.type is None for f in (*sig.inputs, *sig.outputs))


def test_typed_form_parses_every_supported_type() -> None:
    sig = parse_signature(
        "name: str, tags: list[str] -> score: float, label: Literal['a','b'], "
        "n: Optional[int], flags: dict[str, bool] | None, ok: bool, extra: Any"
    )
    types = {f.name: f.type for f in (*sig.inputs, *sig.outputs)}
    assert types["name"] == TypeExpr("str")
    assert types["tags"] == TypeExpr("list", (TypeExpr("str"),))
    assert types["score"] == TypeExpr("float")
    assert types["label"] == TypeExpr("literal", values=("a", "b"))
    assert types["n"] == TypeExpr("optional", (TypeExpr("int"),))
    assert types["flags"] == TypeExpr("optional", (TypeExpr("dict", (TypeExpr("bool"),)),))
    assert types["ok"] == TypeExpr("bool")
    assert types["extra"] == TypeExpr("any")


def test_literal_values_keep_commas_and_quotes_inside_strings() -> None:
    t = parse_type("""Literal['a, b', "it's", 3, True]""")
    assert t.values == ("a, b", "it's", 3, True)


def test_no_inputs_is_allowed() -> None:
    assert parse_signature("-> answer").input_names == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("question answer", "'->'"),
        ("a -> b -> c", "exactly one"),
        ("question ->", "at least one output"),
        ("a, a -> b", "duplicate"),
        ("a -> a", "duplicate"),
        ("1a -> b", "invalid input field name"),
        ("a -> class", "invalid output field name"),
        ("a -> _private", "invalid output field name"),
        ("a -> b: Widget", "unknown type 'Widget'"),
        ("a -> b: list[str", "expected"),
        ("a -> b: dict[int, str]", "dict keys must be str"),
        ("a -> b: int | str", "only one type"),
        ("a -> b: Union[int, None]", "not supported"),
        ("a -> b: Literal[]", "Literal value"),
        ("a -> b: Literal['x', 'x']", "distinct"),
        ("a -> b:", "no type"),
        ("a, , c -> b", "empty input field"),
        ("a -> b: __import__('os')", "unexpected"),
        ("a -> b: " + "list[" * 20 + "str" + "]" * 20, "nested"),
    ],
)
def test_malformed_signatures_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(SignatureError) as err:
        parse_signature(text)
    assert needle in str(err.value)
    assert err.value.errors[0]["loc"] == ["signature"]


def test_untyped_outputs_get_the_seed_defaults() -> None:
    sig = parse_signature("text -> sentiment, confidence, score, reasoning, answer")
    resolved = {f.name: output_field(f) for f in sig.outputs}
    assert resolved["confidence"].type == CONFIDENCE
    assert resolved["score"].type == TypeExpr("float")
    assert (resolved["score"].ge, resolved["score"].le) == (0.0, 1.0)
    for name in ("sentiment", "reasoning", "answer"):
        assert resolved[name].type == TypeExpr("str")


def test_json_form_carries_descriptions_constraints_and_instructions() -> None:
    spec = SignatureSpec.model_validate(
        {
            "inputs": [{"name": "text", "type": "str", "description": "a review"}],
            "outputs": [
                {"name": "stars", "type": "int", "ge": 1, "le": 5},
                {"name": "label", "choices": ["pos", "neg"]},
                {"name": "summary", "minLength": 3, "maxLength": 40, "pattern": "^[A-Z]"},
                {"name": "note", "optional": True},
                {"name": "lang", "default": "en"},
            ],
            "instructions": "Rate the review.",
        }
    )
    sig = signature_from_spec(spec)
    assert sig.instructions == "Rate the review."
    assert sig.inputs[0].description == "a review"
    model = build_model("Out", [output_field(f) for f in sig.outputs])
    schema = json_schema(model)
    props = schema["properties"]
    assert props["stars"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert props["label"]["enum"] == ["pos", "neg"]
    assert props["summary"]["pattern"] == "^[A-Z]"
    assert set(schema["required"]) == {"stars", "label", "summary"}
    ok = model.model_validate({"stars": 4, "label": "pos", "summary": "Great"})
    assert ok.model_dump(by_alias=True)["lang"] == "en"
    with pytest.raises(ValueError):
        model.model_validate({"stars": 9, "label": "pos", "summary": "Great"})


def test_json_form_rejects_a_bad_pattern_and_crossed_bounds() -> None:
    with pytest.raises(SignatureError, match="invalid pattern"):
        signature_from_spec(
            SignatureSpec(outputs=[FieldSpec(name="a", pattern="(")]),
        )
    with pytest.raises(SignatureError, match="lower bound"):
        signature_from_spec(SignatureSpec(outputs=[FieldSpec(name="a", ge=2, le=1)]))


def test_field_names_that_shadow_basemodel_attributes_work() -> None:
    sig = parse_signature("json -> schema, model_config: int, copy")
    model = build_model("Out", [output_field(f) for f in sig.outputs])
    out = model.model_validate({"schema": "s", "model_config": 3, "copy": "c"})
    assert out.model_dump(by_alias=True) == {"schema": "s", "model_config": 3, "copy": "c"}


# --- properties ---------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n)
)
literal_values = st.lists(
    st.one_of(st.text(max_size=8), st.integers(-1000, 1000), st.booleans()),
    min_size=1,
    max_size=4,
    unique_by=repr,
)
base_types = st.one_of(
    st.sampled_from([TypeExpr(k) for k in ("str", "int", "float", "bool", "any")]),
    literal_values.map(lambda vs: TypeExpr("literal", values=tuple(vs))),
)


def _wrap(inner: st.SearchStrategy[TypeExpr]) -> st.SearchStrategy[TypeExpr]:
    return st.one_of(
        inner.map(lambda t: TypeExpr("list", (t,))),
        inner.map(lambda t: TypeExpr("dict", (t,))),
        inner.filter(lambda t: t.kind != "optional").map(lambda t: TypeExpr("optional", (t,))),
    )


types = st.recursive(base_types, _wrap, max_leaves=4)


@st.composite
def signatures(draw: st.DrawFn) -> Signature:
    all_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    split = draw(st.integers(0, len(all_names) - 1))
    fields = [SigField(n, draw(st.one_of(st.none(), types))) for n in all_names]
    return Signature(tuple(fields[:split]), tuple(fields[split:]))


@given(signatures())
@settings(max_examples=150, deadline=None)
def test_string_form_round_trips(sig: Signature) -> None:
    assert parse_signature(format_signature(sig)) == sig


@given(signatures())
@settings(max_examples=100, deadline=None)
def test_json_form_round_trips_through_the_wire(sig: Signature) -> None:
    wire = signature_to_spec(sig).model_dump_json(by_alias=True)
    assert signature_from_spec(SignatureSpec.model_validate_json(wire)) == sig


@given(signatures())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_parsed_signature_builds_a_model_and_schema(sig: Signature) -> None:
    model = build_model("Out", [output_field(f) for f in sig.outputs])
    schema = json_schema(model)
    assert list(schema["properties"]) == sig.output_names


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_parses_or_raises_signature_error(text: str) -> None:
    try:
        load_signature(text)
    except SignatureError as exc:
        assert str(exc)


@given(signatures(), st.data())
@settings(max_examples=200, deadline=None)
def test_mutated_signatures_parse_or_raise_signature_error(
    sig: Signature, data: st.DataObject
) -> None:
    text = format_signature(sig)
    pos = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(["", "[", "]", "'", '"', ",", "->", ":", "|", "\\", "(", "1"]))
    cut = data.draw(st.integers(0, 3))
    mutated = text[:pos] + junk + text[pos + cut :]
    try:
        parse_signature(mutated)
    except SignatureError as exc:
        assert exc.errors[0]["type"] == "signature_error"
