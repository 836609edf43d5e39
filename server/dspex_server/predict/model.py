"""The pydantic model of a signature's fields, its JSON Schema and the OpenAI-strict variant.

Fields get internal names (`f0`, `f1`, ...) with the signature's name as alias, so that a
field called `schema`, `json` or `model_config` cannot clash with BaseModel's attributes.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from .signature import SigField, TypeExpr

# The keywords OpenAI's strict structured outputs accept besides the structural ones
# (type, properties, required, additionalProperties, items, enum, anyOf, description).
_STRICT_OK = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "description",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "title",
    }
)


class _Base(BaseModel):
    model_config = ConfigDict(populate_by_name=False, extra="ignore", protected_namespaces=())


def python_type(t: TypeExpr) -> Any:
    if t.kind == "str":
        return str
    if t.kind == "int":
        return int
    if t.kind == "float":
        return float
    if t.kind == "bool":
        return bool
    if t.kind == "any":
        return Any
    if t.kind == "list":
        return list[python_type(t.args[0])]  # type: ignore[misc]
    if t.kind == "dict":
        return dict[str, python_type(t.args[0])]  # type: ignore[misc]
    if t.kind == "literal":
        return Literal[t.values]  # Literal[(a, b)] is Literal[a, b]
    if t.kind == "optional":
        return python_type(t.args[0]) | None
    raise ValueError(f"unknown type kind {t.kind!r}")


def _constraints(f: SigField) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("ge", "le", "gt", "lt", "min_length", "max_length", "pattern"):
        value = getattr(f, key)
        if value is not None:
            out[key] = value
    return out


def build_model(name: str, fields: Iterable[SigField]) -> type[BaseModel]:
    """A model whose fields are the signature's (types resolved), aliases on the wire.
    Built once per distinct signature: creating a pydantic model and its schema cost ~2 ms,
    most of a prediction on the mock provider (bench/)."""
    key = tuple(fields)
    try:
        return _cached_model(name, key)
    except TypeError:  # a field's default is unhashable (a list, a dict): build it afresh
        return _build_model(name, key)


@functools.lru_cache(maxsize=256)
def _cached_model(name: str, fields: tuple[SigField, ...]) -> type[BaseModel]:
    return _build_model(name, fields)


def _build_model(name: str, fields: tuple[SigField, ...]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for i, f in enumerate(fields):
        assert f.type is not None, "resolve default types before building a model"
        annotation = python_type(f.type)
        if f.optional and f.type.kind != "optional":
            annotation = annotation | None
        if f.has_default:
            default: Any = f.default
        elif f.optional:
            default = None
        else:
            default = ...
        definitions[f"f{i}"] = (
            annotation,
            Field(default, alias=f.name, description=f.description, **_constraints(f)),
        )
    model: type[BaseModel] = create_model(name, __base__=_Base, **definitions)
    return model


def _strip_titles(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("title", None)
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    _strip_titles(sub)
            elif key in ("items", "additionalProperties", "not"):
                _strip_titles(value)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
                for sub in value:
                    _strip_titles(sub)
            elif key == "$defs" and isinstance(value, dict):
                for sub in value.values():
                    _strip_titles(sub)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with the signature's names and without pydantic's titles
    (a fresh copy: callers may change it)."""
    loaded: dict[str, Any] = json.loads(_schema_text(model))
    return loaded


@functools.lru_cache(maxsize=256)
def _schema_text(model: type[BaseModel]) -> str:
    schema = model.model_json_schema(by_alias=True)
    _strip_titles(schema)
    schema["additionalProperties"] = False
    return json.dumps(schema)


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The OpenAI-strict variant (every property required, optional ones nullable, no
    defaults, closed objects), or None where the schema needs what strict mode forbids:
    free-form objects or values (`dict[str, T]`, `Any`) or unsupported keywords."""
    out = copy.deepcopy(schema)
    return out if _make_strict(out, root=True) else None


def _make_strict(node: Any, root: bool = False) -> bool:
    if not isinstance(node, dict) or not node:
        return False  # `Any` is the empty schema: strict mode has no way to say it
    node.pop("default", None)
    if any(key not in _STRICT_OK for key in node):
        return False
    if "anyOf" in node:
        return all(_make_strict(sub) for sub in node["anyOf"])
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties")
        if not isinstance(props, dict) or (not props and not root):
            return False
        if node.get("additionalProperties") not in (None, False):
            return False
        required = set(node.get("required", []))
        for name, sub in props.items():
            if not _make_strict(sub):
                return False
            if name not in required:
                props[name] = _nullable(sub)
        node["required"] = list(props)
        node["additionalProperties"] = False
        return True
    if kind == "array":
        return _make_strict(node.get("items"))
    return True


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    variants = schema.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        return schema
    return {"anyOf": [schema, {"type": "null"}]}
