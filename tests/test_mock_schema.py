"""The mock's schema-instance generator: every instance validates (checked by a real
validator, `jsonschema`) against randomly generated schemas, deterministically per seed."""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from dspex_server.providers.mock_schema import instance

Schema = dict[str, Any]
names = st.text("abcdefgh_", min_size=1, max_size=6)
scalars = st.one_of(st.text(max_size=5), st.integers(-50, 50), st.booleans())


@st.composite
def strings(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": draw(st.sampled_from(["string", ["string", "null"]]))}
    low = draw(st.none() | st.integers(0, 40))
    if low is not None:
        schema["minLength"] = low
    high = draw(st.none() | st.integers(low or 0, 60))
    if high is not None:
        schema["maxLength"] = high
    return schema


@st.composite
def integers(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": "integer"}
    low = draw(st.none() | st.integers(-1000, 1000))
    span = draw(st.integers(10, 500))
    step = draw(st.none() | st.integers(1, 9))
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        high = (low if low is not None else 0) + span
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = high
    if step is not None:
        schema["multipleOf"] = step
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": "number"}
    low = draw(st.none() | st.integers(-10_000, 10_000))
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        high = (low if low is not None else 0) + draw(st.integers(1, 1000))
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = high
    return schema


leaves = st.one_of(
    strings(),
    integers(),
    numbers(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(scalars, min_size=1, max_size=4, unique=True).map(lambda v: {"enum": v}),
    scalars.map(lambda v: {"const": v}),
    st.just({}),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    props = draw(st.dictionaries(names, children, max_size=4))
    required = draw(st.lists(st.sampled_from(sorted(props)), unique=True)) if props else []
    schema: Schema = {"type": "object", "properties": props, "required": required}
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return schema


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    schema: Schema = {"type": "array", "items": draw(children)}
    low = draw(st.none() | st.integers(0, 4))
    if low is not None:
        schema["minItems"] = low
    if draw(st.booleans()):
        schema["maxItems"] = (low or 0) + draw(st.integers(0, 3))
    return schema


def composites(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    return st.one_of(
        objects(children),
        arrays(children),
        st.lists(children, min_size=1, max_size=3).map(lambda b: {"anyOf": b}),
        # oneOf: the first branch, and a second that its instance cannot also match
        children.map(lambda c: {"oneOf": [{"type": "object", "properties": {"v": c}}, False]}),
        st.integers(4, 12).map(
            lambda n: {
                "type": "array",
                "items": {"type": "string", "minLength": n, "maxLength": n + 2},
                "minItems": 3,
                "uniqueItems": True,
            }
        ),
    )


schemas = st.recursive(leaves, composites, max_leaves=12)


@st.composite
def with_defs(draw: st.DrawFn) -> Schema:
    """A root that reaches part of itself by `$ref` through `$defs`."""
    shared = draw(schemas)
    return {
        "type": "object",
        "properties": {
            "x": {"$ref": "#/$defs/Shared"},
            "y": {"type": "array", "items": {"$ref": "#/$defs/Shared"}, "minItems": 1},
            "z": draw(schemas),
        },
        "required": ["x", "y"],
        "$defs": {"Shared": shared},
    }


@settings(max_examples=300, deadline=None)
@given(schema=st.one_of(schemas, with_defs()), seed=st.text(max_size=40))
def test_instances_validate_against_random_schemas(schema: Schema, seed: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    value = instance(schema, seed)
    jsonschema.Draft202012Validator(schema).validate(value)
    assert instance(schema, seed) == value  # deterministic


def test_strings_follow_the_seed_text() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    one = instance(schema, "I love programming in Elixir")
    two = instance(schema, "Rust compiles slowly")
    assert one != two
    assert one["a"].split()[0] in {"love", "programming", "Elixir"}


def test_a_recursive_schema_terminates_and_validates() -> None:
    schema: Schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                "required": ["kids"],
            }
        },
    }
    jsonschema.validate(instance(schema, "tree"), schema)


FORMAT_CHECKS = {
    "date": date.fromisoformat,
    "date-time": lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
    "time": lambda v: time.fromisoformat(v.replace("Z", "+00:00")),
    "email": lambda v: re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", v) or fail(v),
    "uri": lambda v: (urlsplit(v).scheme and urlsplit(v).netloc) or fail(v),
    "hostname": lambda v: re.fullmatch(r"[a-z0-9]+(\.[a-z0-9]+)+", v) or fail(v),
    "uuid": uuid.UUID,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
}
PATTERNS = (
    r"^[A-Z]{2}-\d{3,5}$",
    r"^\w+@\w+\.(com|org)$",
    r"^(ab|cd)+[0-9]?$",
    r"[^abc]{3}",
    r"^\+?[1-9]\d{1,14}$",
    r"^#[0-9a-fA-F]{6}$",
    r"^(\d{3})-\1$",
    r"^[a-z]+(-[a-z]+)*$",
    r"v\d+\.\d+\.\d+",
)


def fail(value: str) -> bool:
    raise AssertionError(value)


@st.composite
def formatted_strings(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": "string"}
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(sorted(FORMAT_CHECKS)))
    else:
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
        if draw(st.booleans()):
            schema["maxLength"] = draw(st.integers(16, 40))
    return schema


@settings(max_examples=300, deadline=None)
@given(schema=formatted_strings(), seed=st.text(max_size=40))
def test_strings_honour_format_and_pattern(schema: Schema, seed: str) -> None:
    nested = {"type": "object", "properties": {"s": schema}, "required": ["s"]}
    value = instance(nested, seed)["s"]
    jsonschema.Draft202012Validator(
        nested, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate({"s": value})
    if "format" in schema:
        FORMAT_CHECKS[schema["format"]](value)
    else:
        assert re.search(schema["pattern"], value), (schema, value)


def test_formatted_strings_vary_with_the_input() -> None:
    schema = {"type": "string", "format": "uuid"}
    assert instance(schema, "first text") != instance(schema, "second text")
    patterned = {"type": "string", "pattern": r"^[A-Z]{3}\d{4}$"}
    values = {instance(patterned, f"input {i}") for i in range(20)}
    assert len(values) > 10
