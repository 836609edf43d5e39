"""Prompts: a signature, its inputs and demos as chat messages; text answers parsed back.

Text mode frames every field with a marker line `[[ ## name ## ]]` and ends with
`[[ ## completed ## ]]`; its answers are parsed strictly (each output field exactly once).
JSON modes ask for one JSON object and show the JSON Schema in the system prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dspex_protocol import Demo, Message

from .signature import SigField, Signature, TypeExpr

Style = Literal["text", "json", "tool"]
COMPLETED = "completed"
OUTPUT_TOOL = "dspex_output"
MARKER_RE = re.compile(r"^\s*\[\[ ## (\w+) ## \]\]\s*$", re.MULTILINE)


def marker(name: str) -> str:
    return f"[[ ## {name} ## ]]"


def render_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def describe_type(t: TypeExpr | None) -> str:
    if t is None or t.kind == "any":
        return "any JSON value"
    if t.kind == "literal":
        return "one of: " + ", ".join(render_value(v) for v in t.values)
    if t.kind == "optional":
        return f"{describe_type(t.args[0])}, or null"
    return str(t)


def _field_lines(fields: Sequence[SigField]) -> list[str]:
    lines = []
    for i, f in enumerate(fields, 1):
        line = f"{i}. `{f.name}`"
        if f.type is not None and f.type.kind != "any":
            line += f" ({describe_type(f.type)})"
        if f.description:
            line += f": {f.description}"
        lines.append(line)
    return lines


def _objective(sig: Signature) -> str:
    if sig.instructions:
        return sig.instructions
    ins = ", ".join(f"`{n}`" for n in sig.input_names)
    outs = ", ".join(f"`{n}`" for n in sig.output_names)
    return f"Given the fields {ins}, produce the fields {outs}." if ins else f"Produce {outs}."


def system_prompt(sig: Signature, style: Style, schema: Mapping[str, Any] | None) -> str:
    parts = []
    if sig.inputs:
        parts.append("Your input fields are:\n" + "\n".join(_field_lines(sig.inputs)))
    parts.append("Your output fields are:\n" + "\n".join(_field_lines(sig.outputs)))
    if style == "text":
        layout = [f"{marker(f.name)}\n{{{f.name}}}" for f in (*sig.inputs, *sig.outputs)]
        parts.append(
            "All interactions are structured as follows, with the values filled in.\n\n"
            + "\n\n".join(layout)
            + f"\n\n{marker(COMPLETED)}"
        )
        parts.append(
            "Answer with each output field under its marker line, in order, then "
            f"{marker(COMPLETED)}. Write text fields as plain text and every other field as "
            "a JSON value."
        )
    elif style == "json":
        parts.append(
            "Answer with one JSON object, and nothing else, with the output fields as keys. "
            "It must match this JSON Schema:\n"
            + json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
        )
    else:
        parts.append(f"Give the output fields as the arguments of one call of `{OUTPUT_TOOL}`.")
    parts.append(f"Your objective: {_objective(sig)}")
    return "\n\n".join(parts)


def user_prompt(sig: Signature, inputs: Mapping[str, Any], style: Style) -> str:
    blocks = [
        f"{marker(f.name)}\n{render_value(inputs[f.name])}" for f in sig.inputs if f.name in inputs
    ]
    if style == "text":
        outs = ", ".join(marker(n) for n in sig.output_names)
        blocks.append(
            f"Respond with the fields {outs} in order, then end with {marker(COMPLETED)}."
        )
    elif not blocks:
        blocks.append("Produce the output fields.")
    return "\n\n".join(blocks)


def assistant_text(sig: Signature, outputs: Mapping[str, Any], style: Style) -> str:
    if style == "text":
        blocks = [
            f"{marker(n)}\n{render_value(outputs[n])}" for n in sig.output_names if n in outputs
        ]
        return "\n\n".join([*blocks, marker(COMPLETED)])
    return json.dumps(dict(outputs), ensure_ascii=False)


def build_messages(
    sig: Signature,
    inputs: Mapping[str, Any],
    demos: Sequence[Demo],
    style: Style,
    schema: Mapping[str, Any] | None = None,
) -> list[Message]:
    """System prompt, each demo as a user/assistant pair, then the real inputs."""
    messages = [Message(role="system", content=system_prompt(sig, style, schema))]
    for demo in demos:
        messages.append(Message(role="user", content=user_prompt(sig, demo.inputs, style)))
        shown: Style = "json" if style == "tool" else style
        messages.append(Message(role="assistant", content=assistant_text(sig, demo.outputs, shown)))
    messages.append(Message(role="user", content=user_prompt(sig, inputs, style)))
    return messages


@dataclass
class TextParse:
    """What a text-mode answer said: raw values by field, and what was wrong with it."""

    values: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _textual(t: TypeExpr | None) -> bool:
    if t is None or t.kind == "str":
        return True
    if t.kind == "optional":
        return _textual(t.args[0])
    return t.kind == "literal" and all(isinstance(v, str) for v in t.values)


def _text_value(raw: str, t: TypeExpr | None) -> Any:
    text = raw.strip()
    if _textual(t):
        if len(text) >= 2 and text[0] == text[-1] == '"':
            try:
                return json.loads(text)
            except ValueError:
                return text
        if t is not None and t.kind == "optional" and text in ("null", "None", ""):
            return None
        return text
    try:
        return json.loads(text)
    except ValueError:
        pass
    from json_repair import loads as repair_loads

    repaired = repair_loads(text)
    return text if repaired == "" else repaired


def parse_text(answer: str, sig: Signature) -> TextParse:
    """Each output field's value from its marker section; strict about the markers."""
    result = TextParse()
    outputs = {f.name: f for f in sig.outputs}
    matches = list(MARKER_RE.finditer(answer))
    sections: dict[str, str] = {}
    for i, m in enumerate(matches):
        name = m.group(1)
        end = matches[i + 1].start() if i + 1 < len(matches) else len(answer)
        if name == COMPLETED or name in sig.input_names:
            continue
        if name not in outputs:
            result.problems.append(f"unknown field marker {marker(name)}")
            continue
        if name in sections:
            result.problems.append(f"field {name!r} is given twice")
            continue
        sections[name] = answer[m.end() : end]
    for name, f in outputs.items():
        if name in sections:
            result.values[name] = _text_value(sections[name], f.type)
        elif f.required:
            result.missing.append(name)
    return result
