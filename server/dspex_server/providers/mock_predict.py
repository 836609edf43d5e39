"""The mock's answer to a dspex/predict text-mode prompt: each output field under its
marker line, then the completed marker (the layout predict/prompt.py asks for and parses),
with values valid for the field types the system prompt lists."""

from __future__ import annotations

import json
import re
from typing import Any

from .mock_schema import instance

_RESPOND = re.compile(r"Respond with the fields ((?:\[\[ ## \w+ ## \]\](?:, )?)+) in order")
_MARKER_NAME = re.compile(r"\[\[ ## (\w+) ## \]\]")
_FIELD_LINE = re.compile(r"^\d+\. `(\w+)`(?: \((.+?)\))?(?=: |$)", re.MULTILINE)
_OUTPUTS_HEAD = "Your output fields are:"


def _type_schema(text: str | None) -> dict[str, Any]:
    """A JSON Schema for a type as the prompt describes it (`describe_type`)."""
    if text is None or text == "any JSON value":
        return {"type": "string"}
    if text.startswith("one of: "):
        first = text[len("one of: ") :].split(", ")[0]
        try:
            return {"const": json.loads(first)}
        except ValueError:
            return {"const": first}
    if text.endswith(", or null"):
        return _type_schema(text[: -len(", or null")])
    from ..predict.signature import SignatureError, parse_type

    try:
        return _expr_schema(parse_type(text))
    except SignatureError:
        return {"type": "string"}


def _expr_schema(t: Any) -> dict[str, Any]:
    kinds = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    if t.kind in kinds:
        return {"type": kinds[t.kind]}
    if t.kind == "list":
        return {"type": "array", "items": _expr_schema(t.args[0])}
    if t.kind == "dict":
        return {"type": "object", "additionalProperties": _expr_schema(t.args[0])}
    if t.kind == "literal":
        return {"enum": list(t.values)}
    if t.kind == "optional":
        return _expr_schema(t.args[0])
    return {"type": "string"}


def text_mode_reply(system: str, user: str, seed: str) -> str | None:
    """The marker-framed answer, or None when the user message asks for no fields."""
    asked = _RESPOND.search(user)
    if asked is None:
        return None
    names = _MARKER_NAME.findall(asked.group(1))
    outputs = system[system.find(_OUTPUTS_HEAD) :] if _OUTPUTS_HEAD in system else ""
    outputs = outputs.split("\n\n")[0]
    types = {m.group(1): m.group(2) for m in _FIELD_LINE.finditer(outputs)}
    blocks = []
    for name in names:
        value = instance(_type_schema(types.get(name)), f"{name}|{seed}")
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        blocks.append(f"[[ ## {name} ## ]]\n{shown}")
    return "\n\n".join([*blocks, "[[ ## completed ## ]]"])
