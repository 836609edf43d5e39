"""Signature models are built once per distinct signature (bench/: building a pydantic model
and its schema was most of a prediction's cost); callers still get fresh schema dicts."""

from __future__ import annotations

from dspex_server.predict.model import build_model, json_schema
from dspex_server.predict.signature import STR, SigField, TypeExpr, parse_signature


def test_the_same_fields_give_the_same_model_class() -> None:
    first = parse_signature("text -> sentiment: str, score: float")
    again = parse_signature("text -> sentiment: str, score: float")
    other = parse_signature("text -> sentiment: str, score: int")
    assert build_model("Outputs", first.outputs) is build_model("Outputs", again.outputs)
    assert build_model("Outputs", first.outputs) is not build_model("Outputs", other.outputs)


def test_schema_dicts_are_fresh_copies() -> None:
    model = build_model("Outputs", parse_signature("q -> answer: str").outputs)
    schema = json_schema(model)
    schema["properties"]["answer"]["type"] = "integer"
    schema["additionalProperties"] = True
    fresh = json_schema(model)
    assert fresh["properties"]["answer"]["type"] == "string"
    assert fresh["additionalProperties"] is False


def test_an_unhashable_default_still_builds() -> None:
    tags = SigField("tags", TypeExpr("list", args=(STR,)), default=["a"])
    model = build_model("Outputs", [tags])
    assert model.model_validate({}).model_dump(by_alias=True) == {"tags": ["a"]}
