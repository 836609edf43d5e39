"""A deterministic instance of a JSON Schema, for the mock provider's structured answers.

Like pydantic-ai's `TestModel`: the value honours types, `enum`/`const`, `required`,
numeric and length bounds, string `format`s and `pattern`s (mock_strings.py), nested
objects, arrays, `anyOf`/`oneOf` (first branch), `allOf` (merged) and local `$ref`s
(`#/$defs/...`), and its strings are derived from a seed text (the request's input), so
different inputs give different answers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from .mock_strings import formatted, matching

MAX_DEPTH = 12
_WORD = re.compile(r"[^\W\d_]{3,}")
_TYPE_ORDER = ("object", "array", "string", "number", "integer", "boolean", "null")


def _digest(seed: str, path: str) -> bytes:
    return hashlib.blake2b(f"{seed}\x00{path}".encode(), digest_size=16).digest()


def _pick(seed: str, path: str, modulo: int) -> int:
    return int.from_bytes(_digest(seed, path)[:8], "little") % max(1, modulo)


class _Generator:
    def __init__(self, root: Mapping[str, Any], seed: str) -> None:
        self.root = root
        self.seed = seed
        self.words = _WORD.findall(seed) or ["mock"]

    # --- schema plumbing --------------------------------------------------------------

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return {}
        node: Any = self.root
        for raw in ref[1:].split("/"):
            if not raw:
                continue
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node

    def _flatten(self, schema: Any, depth: int) -> Any:
        """`$ref`, `allOf` and the first `anyOf`/`oneOf` branch folded into one schema."""
        for _ in range(MAX_DEPTH):
            if not isinstance(schema, Mapping):
                return schema
            if "$ref" in schema:
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                target = self._resolve(str(schema["$ref"]))
                schema = {**target, **rest} if isinstance(target, Mapping) else rest
                continue
            for key in ("anyOf", "oneOf"):
                branches = schema.get(key)
                if isinstance(branches, list) and branches:
                    rest = {k: v for k, v in schema.items() if k != key}
                    first = self._flatten(branches[0], depth)
                    if isinstance(first, Mapping):
                        schema = {**rest, **first}
                    break
            else:
                if isinstance(schema.get("allOf"), list):
                    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
                    for branch in schema["allOf"]:
                        part = self._flatten(branch, depth)
                        if isinstance(part, Mapping):
                            merged = _merge(merged, part)
                    schema = merged
                    continue
                return schema
        return schema

    # --- values -----------------------------------------------------------------------

    def value(self, schema: Any, path: str, depth: int = 0) -> Any:
        schema = self._flatten(schema, depth)
        if schema is True or not isinstance(schema, Mapping):
            return self.string({}, path)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        kind = _kind(schema)
        if depth >= MAX_DEPTH and kind in ("object", "array"):
            return {} if kind == "object" else []
        if kind == "object":
            return self.obj(schema, path, depth)
        if kind == "array":
            return self.array(schema, path, depth)
        if kind == "integer":
            return self.integer(schema, path)
        if kind == "number":
            return self.number(schema, path)
        if kind == "boolean":
            return _pick(self.seed, path, 2) == 0
        if kind == "null":
            return None
        return self.string(schema, path)

    def string(self, schema: Mapping[str, Any], path: str) -> str:
        word = self.words[_pick(self.seed, path + "#w", len(self.words))]
        text = f"{word} {_digest(self.seed, path).hex()[:6]}"
        low = int(schema.get("minLength", 0) or 0)
        high = schema.get("maxLength")
        special = self._special(schema, path, word, low, high)
        if special is not None:
            return special
        if len(text) < low:
            text = (text + " ") * (low // (len(text) + 1) + 1)
            text = text[: max(low, len(text.rstrip()))]
        if high is not None and len(text) > int(high):
            tag = _digest(self.seed, path).hex()  # cut short: keep it distinct
            text = (tag * (int(high) // len(tag) + 1))[: int(high)]
        return text

    def _special(
        self, schema: Mapping[str, Any], path: str, word: str, low: int, high: Any
    ) -> str | None:
        """A string of the schema's `pattern` or `format`, when it has one (and it fits
        the length bounds)."""
        limit = int(high) if isinstance(high, int) else None
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            return matching(pattern, f"{self.seed}\x00{path}", low, limit)
        fmt = schema.get("format")
        value = formatted(fmt, f"{self.seed}\x00{path}", word) if isinstance(fmt, str) else None
        if value is not None and low <= len(value) <= (limit if limit is not None else len(value)):
            return value
        return None

    def integer(self, schema: Mapping[str, Any], path: str) -> int:
        low, high = _bounds(schema)
        lo = hi = 0
        if high != math.inf:
            hi = math.ceil(high) - 1 if _excl(schema, "max") else math.floor(high)
        if low != -math.inf:
            lo = math.floor(low) + 1 if _excl(schema, "min") else math.ceil(low)
        else:
            lo = min(0, hi) if high != math.inf else 0
        if high == math.inf:
            hi = lo + 100
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            first = -(-lo // step) * step
            count = max(1, (hi - first) // step + 1)
            return int(first + step * _pick(self.seed, path, count))
        return lo + _pick(self.seed, path, hi - lo + 1) if hi >= lo else lo

    def number(self, schema: Mapping[str, Any], path: str) -> float:
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            return self._multiple(schema, float(step))
        low, high = _bounds(schema)
        if low == -math.inf and high == math.inf:
            low, high = 0.0, 1.0
        elif low == -math.inf:
            low = high - 1.0
        elif high == math.inf:
            high = low + 1.0
        fraction = (_pick(self.seed, path, 998) + 1) / 1000  # strictly inside (0, 1)
        value = low + (high - low) * fraction
        if not _excl(schema, "min") and not _excl(schema, "max"):
            value = round(value, 3) if low <= round(value, 3) <= high else value
        return float(value)

    def _multiple(self, schema: Mapping[str, Any], step: float) -> float:
        low, _high = _bounds(schema)
        k = 0 if low == -math.inf else math.ceil(low / step)
        if _excl(schema, "min") and k * step <= low:
            k += 1
        return float(k * step)

    def obj(self, schema: Mapping[str, Any], path: str, depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = [str(r) for r in schema.get("required", ()) if isinstance(r, str)]
        names = list(dict.fromkeys([*required, *(props if depth < MAX_DEPTH // 2 else ())]))
        limit = schema.get("maxProperties")
        if isinstance(limit, int):
            names = names[: max(limit, len(required))]
        extra = schema.get("additionalProperties", True)
        result: dict[str, Any] = {}
        for name in names:
            sub = props.get(name, extra if isinstance(extra, Mapping) else {"type": "string"})
            result[name] = self.value(sub, f"{path}/{name}", depth + 1)
        wanted = int(schema.get("minProperties", 0) or 0)
        n = 0
        while len(result) < wanted and extra is not False and n < wanted + len(result) + 1:
            key = f"extra_{n}"
            n += 1
            if key not in result:
                sub = extra if isinstance(extra, Mapping) else {"type": "string"}
                result[key] = self.value(sub, f"{path}/{key}", depth + 1)
        return result

    def array(self, schema: Mapping[str, Any], path: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items", {})
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        low = int(schema.get("minItems", 0) or 0)
        high = schema.get("maxItems")
        usual = 2 if depth < MAX_DEPTH // 2 else 0  # deep in a recursive schema: the least
        count = max(low, min(usual, int(high) if high is not None else usual))
        if high is not None:
            count = min(count, int(high))
        if items is False:
            count = min(count, len(prefix))
        result: list[Any] = []
        unique = bool(schema.get("uniqueItems"))
        tries = 0
        while len(result) < count and tries < count * 8 + 8:
            i = len(result)
            sub = prefix[i] if i < len(prefix) else items
            item = self.value(sub, f"{path}/{i}.{tries}" if tries else f"{path}/{i}", depth + 1)
            tries += 1
            if unique and item in result:
                continue
            result.append(item)
        return result


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(a)
    for key, value in b.items():
        if key == "properties" and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        elif key == "required" and isinstance(merged.get(key), list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


def _kind(schema: Mapping[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        named = [x for x in t if x in _TYPE_ORDER]
        return next((x for x in named if x != "null"), named[0] if named else "string")
    if isinstance(t, str):
        return t
    if any(k in schema for k in ("properties", "required", "additionalProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _bounds(schema: Mapping[str, Any]) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    for key in ("minimum", "exclusiveMinimum"):
        v = schema.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            low = max(low, float(v))
    for key in ("maximum", "exclusiveMaximum"):
        v = schema.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            high = min(high, float(v))
    return low, high


def _excl(schema: Mapping[str, Any], side: str) -> bool:
    """Whether the binding bound on a side is exclusive (draft 6+ numeric form)."""
    excl = schema.get("exclusiveMinimum" if side == "min" else "exclusiveMaximum")
    incl = schema.get("minimum" if side == "min" else "maximum")
    if not isinstance(excl, int | float) or isinstance(excl, bool):
        return False
    if not isinstance(incl, int | float) or isinstance(incl, bool):
        return True
    return excl >= incl if side == "min" else excl <= incl


def instance(schema: Any, seed: str) -> Any:
    """A value valid against `schema` (for the keywords above), determined by `seed`."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Generator(root, seed).value(schema, "")
