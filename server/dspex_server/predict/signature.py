"""Signatures: `"question, context -> answer"`, the typed form and the JSON form.

Types are read by a small parser of their own (a tokenizer and a recursive descent over a
fixed set of names): nothing in a signature is ever evaluated as Python.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field, replace
from typing import Any

from dspex_protocol import FieldSpec, SignatureSpec, ToolDefinition

MAX_SIGNATURE_CHARS = 20_000
MAX_FIELDS = 100
MAX_TYPE_DEPTH = 8
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

Scalar = str | int | float | bool | None
_MISSING: Any = object()


class SignatureError(ValueError):
    """A malformed signature or inputs that do not fit it; `errors` in pydantic's shape."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ("signature",)) -> None:
        super().__init__(message)
        self.errors: list[dict[str, Any]] = [
            {"loc": list(loc), "msg": message, "type": "signature_error"}
        ]


@dataclass(frozen=True)
class TypeExpr:
    """A parsed type: `kind` is str, int, float, bool, any, list, dict, literal or optional."""

    kind: str
    args: tuple[TypeExpr, ...] = ()
    values: tuple[Scalar, ...] = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list[{self.args[0]}]"
        if self.kind == "dict":
            return f"dict[str, {self.args[0]}]"
        if self.kind == "literal":
            return "Literal[" + ", ".join(_literal_repr(v) for v in self.values) + "]"
        if self.kind == "optional":
            return f"Optional[{self.args[0]}]"
        if self.kind == "any":
            return "Any"
        return self.kind


STR = TypeExpr("str")
ANY = TypeExpr("any")
CONFIDENCE = TypeExpr("literal", values=("low", "medium", "high"))


def _literal_repr(value: Scalar) -> str:
    if isinstance(value, str):
        return repr(value)
    return "None" if value is None else str(value)


@dataclass(frozen=True)
class SigField:
    name: str
    type: TypeExpr | None = None
    description: str | None = None
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: tuple[Scalar, ...] | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    optional: bool = False
    default: Any = _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    @property
    def required(self) -> bool:
        return not (self.optional or self.has_default)


@dataclass(frozen=True)
class Signature:
    inputs: tuple[SigField, ...]
    outputs: tuple[SigField, ...]
    instructions: str | None = None
    tools: tuple[ToolDefinition, ...] = field(default=(), compare=False)

    @property
    def output_names(self) -> list[str]:
        return [f.name for f in self.outputs]

    @property
    def input_names(self) -> list[str]:
        return [f.name for f in self.inputs]

    def with_reasoning(self) -> Signature:
        """Chain of thought: a `reasoning` output field first (unless one is declared)."""
        if "reasoning" in self.output_names:
            return self
        reasoning = SigField(
            "reasoning", STR, description="Think step by step before giving the other fields."
        )
        return replace(self, outputs=(reasoning, *self.outputs))

    def with_instructions(self, instructions: str | None) -> Signature:
        return self if instructions is None else replace(self, instructions=instructions)


def output_type(f: SigField) -> TypeExpr:
    """The declared type, else the seed's default for the name (`confidence`, `score`...)."""
    if f.choices is not None:
        return TypeExpr("literal", values=f.choices)
    if f.type is not None:
        return f.type
    if f.name == "confidence":
        return CONFIDENCE
    if f.name == "score":
        return TypeExpr("float")
    return STR


def output_field(f: SigField) -> SigField:
    """The field with its default type and, for an untyped `score`, the range 0..1."""
    resolved = replace(f, type=output_type(f), choices=None)
    if f.type is None and f.name == "score" and f.ge is None and f.le is None:
        resolved = replace(resolved, ge=0.0, le=1.0)
    return resolved


def input_field(f: SigField) -> SigField:
    """Untyped inputs accept any JSON value (rendered as text in the prompt)."""
    if f.choices is not None:
        return replace(f, type=TypeExpr("literal", values=f.choices), choices=None)
    return f if f.type is not None else replace(f, type=ANY)


# --- the type-expression parser -------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<arrow>->)
    | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<punct>[\[\],:|])
    | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

_SIMPLE = {
    "str": "str",
    "string": "str",
    "int": "int",
    "integer": "int",
    "float": "float",
    "number": "float",
    "bool": "bool",
    "boolean": "bool",
    "any": "any",
    "json": "any",
}
_GENERIC = {"list": "list", "dict": "dict", "literal": "literal", "optional": "optional"}


@dataclass
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # only trailing whitespace is left
            break
        kind = m.lastgroup or "bad"
        if kind == "bad":
            raise SignatureError(f"unexpected character {m.group(kind)!r} at {m.start(kind)}")
        tokens.append(_Token(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        tok = self.peek()
        if tok is None:
            raise SignatureError(f"expected {what}, found the end")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.next(repr(text))
        if tok.text != text:
            raise SignatureError(f"expected {text!r} at {tok.pos}, found {tok.text!r}")

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.text == text

    def type_expr(self, depth: int = 0) -> TypeExpr:
        if depth > MAX_TYPE_DEPTH:
            raise SignatureError(f"a type is nested more than {MAX_TYPE_DEPTH} deep")
        parts = [self.atom(depth)]
        while self.at("|"):
            self.i += 1
            parts.append(self.atom(depth))
        return _union(parts)

    def atom(self, depth: int) -> TypeExpr | None:
        tok = self.next("a type")
        if tok.kind != "name":
            raise SignatureError(f"expected a type at {tok.pos}, found {tok.text!r}")
        name = tok.text.removeprefix("typing.")
        low = name.lower()
        if low == "none":
            return None
        if low in _SIMPLE and not self.at("["):
            return TypeExpr(_SIMPLE[low])
        if low in ("list", "dict", "optional", "literal") and not self.at("["):
            if low == "list":
                return TypeExpr("list", (ANY,))
            if low == "dict":
                return TypeExpr("dict", (ANY,))
            raise SignatureError(f"{name} needs arguments in [...]")
        if low == "union":
            raise SignatureError(f"{name}[...] is not supported; use Optional[T] or T | None")
        if low == "literal":
            return self.literal()
        if low in _GENERIC:
            self.expect("[")
            args = [self.type_expr(depth + 1)]
            while self.at(","):
                self.i += 1
                args.append(self.type_expr(depth + 1))
            self.expect("]")
            return self.generic(low, name, args)
        raise SignatureError(
            f"unknown type {name!r} (known: str, int, float, bool, list[...], dict[str, ...], "
            "Literal[...], Optional[...], ... | None, Any)"
        )

    def generic(self, low: str, name: str, args: list[TypeExpr]) -> TypeExpr:
        if low == "list":
            if len(args) != 1:
                raise SignatureError("list takes one type argument")
            return TypeExpr("list", (args[0],))
        if low == "dict":
            if len(args) != 2 or args[0] != STR:
                raise SignatureError("dict keys must be str: dict[str, T]")
            return TypeExpr("dict", (args[1],))
        if len(args) != 1:
            raise SignatureError(f"{name} takes one type argument")
        return _optional(args[0])

    def literal(self) -> TypeExpr:
        self.expect("[")
        values: list[Scalar] = [self.literal_value()]
        while self.at(","):
            self.i += 1
            values.append(self.literal_value())
        self.expect("]")
        if len(set(map(repr, values))) != len(values):
            raise SignatureError("Literal values must be distinct")
        return TypeExpr("literal", values=tuple(values))

    def literal_value(self) -> Scalar:
        tok = self.next("a literal value")
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "number":
            number = float(tok.text)
            return int(tok.text) if re.fullmatch(r"-?\d+", tok.text) else number
        if tok.kind == "name" and tok.text in ("True", "False", "true", "false"):
            return tok.text.lower() == "true"
        raise SignatureError(f"a Literal value must be a string, number or bool, not {tok.text!r}")


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _unquote(token: str) -> str:
    """A quoted string token's value (Python's escapes for quotes, \\n, \\t, \\r, \\x, \\u,
    \\U, as `repr` writes them)."""
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1] if i + 1 < len(body) else ""
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in _HEX_ESCAPES:
            digits = body[i + 2 : i + 2 + _HEX_ESCAPES[code]]
            if len(digits) != _HEX_ESCAPES[code] or not all(
                c in "0123456789abcdefABCDEF" for c in digits
            ):
                raise SignatureError(f"bad escape \\{code} in {token}")
            value = int(digits, 16)
            if value > 0x10FFFF:
                raise SignatureError(f"bad escape \\{code} in {token}")
            out.append(chr(value))
            i += 2 + len(digits)
        else:
            raise SignatureError(f"unknown escape \\{code} in a string")
    return "".join(out)


def _optional(t: TypeExpr | None) -> TypeExpr:
    if t is None:
        raise SignatureError("None alone is not a field type")
    return t if t.kind == "optional" else TypeExpr("optional", (t,))


def _union(parts: list[TypeExpr | None]) -> TypeExpr:
    real = [p for p in parts if p is not None]
    if len(real) != 1:
        raise SignatureError("only one type may be combined with None (T | None)")
    return real[0] if len(real) == len(parts) else _optional(real[0])


def parse_type(text: str) -> TypeExpr:
    parser = _Parser(_tokenize(text))
    t = parser.type_expr()
    if parser.peek() is not None:
        tok = parser.next("")
        raise SignatureError(f"unexpected {tok.text!r} at {tok.pos} after the type")
    return t


# --- signatures --------------------------------------------------------------------------


def _split_top_level(text: str, sep: str) -> list[str]:
    """Split on `sep` outside brackets and quotes."""
    parts: list[str] = []
    depth, start, quote, i = 0, 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _check_name(name: str, side: str) -> None:
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise SignatureError(
            f"invalid {side} field name {name!r} (a letter, then letters, digits or _; "
            "at most 64 characters; not a Python keyword)"
        )


def _parse_fields(text: str, side: str) -> list[SigField]:
    if not text.strip():
        return []
    fields = []
    for part in _split_top_level(text, ","):
        item = part.strip()
        if not item:
            raise SignatureError(f"an empty {side} field (a stray comma?)")
        name, colon, type_text = item.partition(":")
        name = name.strip()
        _check_name(name, side)
        if colon and not type_text.strip():
            raise SignatureError(f"field {name!r} has ':' but no type")
        fields.append(SigField(name, parse_type(type_text) if colon else None))
    return fields


def _check_fields(inputs: list[SigField], outputs: list[SigField]) -> None:
    if not outputs:
        raise SignatureError("a signature needs at least one output field")
    if len(inputs) + len(outputs) > MAX_FIELDS:
        raise SignatureError(f"a signature has at most {MAX_FIELDS} fields")
    seen: set[str] = set()
    for f in (*inputs, *outputs):
        if f.name in seen:
            raise SignatureError(f"duplicate field name {f.name!r}")
        seen.add(f.name)


def parse_signature(text: str) -> Signature:
    """`"question, context -> answer"` or `"name: str -> score: float, label: Literal['a']"`."""
    if len(text) > MAX_SIGNATURE_CHARS:
        raise SignatureError(f"a signature has at most {MAX_SIGNATURE_CHARS} characters")
    sides = _split_top_level(text, "->")
    if len(sides) == 1:
        raise SignatureError("a signature needs '->' between inputs and outputs")
    if len(sides) > 2:
        raise SignatureError("a signature has exactly one '->'")
    inputs = _parse_fields(sides[0], "input")
    outputs = _parse_fields(sides[1], "output")
    _check_fields(inputs, outputs)
    return Signature(tuple(inputs), tuple(outputs))


def format_signature(sig: Signature) -> str:
    """The string form (names and types; descriptions and constraints need the JSON form)."""

    def side(fields: tuple[SigField, ...]) -> str:
        return ", ".join(f.name if f.type is None else f"{f.name}: {f.type}" for f in fields)

    return f"{side(sig.inputs)} -> {side(sig.outputs)}"


def _field_from_spec(spec: FieldSpec, side: str) -> SigField:
    _check_name(spec.name, side)
    type_ = parse_type(spec.type) if spec.type else None
    if spec.pattern is not None:
        try:
            re.compile(spec.pattern)
        except re.error as exc:
            raise SignatureError(f"field {spec.name!r}: invalid pattern ({exc})") from None
    for low, high in ((spec.ge, spec.le), (spec.gt, spec.lt)):
        if low is not None and high is not None and low > high:
            raise SignatureError(f"field {spec.name!r}: lower bound above upper bound")
    if (
        spec.min_length is not None
        and spec.max_length is not None
        and spec.min_length > spec.max_length
    ):
        raise SignatureError(f"field {spec.name!r}: minLength above maxLength")
    choices = tuple(spec.choices) if spec.choices is not None else None
    if choices is not None and len(set(map(repr, choices))) != len(choices):
        raise SignatureError(f"field {spec.name!r}: choices must be distinct")
    return SigField(
        name=spec.name,
        type=type_,
        description=spec.description,
        ge=spec.ge,
        le=spec.le,
        gt=spec.gt,
        lt=spec.lt,
        choices=choices,
        min_length=spec.min_length,
        max_length=spec.max_length,
        pattern=spec.pattern,
        optional=spec.optional,
        default=_MISSING if spec.default is None else spec.default,
    )


def signature_from_spec(spec: SignatureSpec) -> Signature:
    inputs = [_field_from_spec(f, "input") for f in spec.inputs]
    outputs = [_field_from_spec(f, "output") for f in spec.outputs]
    _check_fields(inputs, outputs)
    return Signature(tuple(inputs), tuple(outputs), spec.instructions, tuple(spec.tools or ()))


def _field_to_spec(f: SigField) -> FieldSpec:
    return FieldSpec(
        name=f.name,
        type=None if f.type is None else str(f.type),
        description=f.description,
        ge=f.ge,
        le=f.le,
        gt=f.gt,
        lt=f.lt,
        choices=list(f.choices) if f.choices is not None else None,
        min_length=f.min_length,
        max_length=f.max_length,
        pattern=f.pattern,
        optional=f.optional,
        default=f.default if f.has_default else None,
    )


def signature_to_spec(sig: Signature) -> SignatureSpec:
    return SignatureSpec(
        inputs=[_field_to_spec(f) for f in sig.inputs],
        outputs=[_field_to_spec(f) for f in sig.outputs],
        instructions=sig.instructions,
        tools=list(sig.tools) or None,
    )


def load_signature(value: str | SignatureSpec) -> Signature:
    """A signature from either form; a SignatureError says what is wrong and where."""
    return parse_signature(value) if isinstance(value, str) else signature_from_spec(value)
