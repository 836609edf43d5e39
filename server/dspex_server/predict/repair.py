"""Parse, validate, repair: an answer becomes validated outputs, or a re-ask that carries
only the last failed answer and what was wrong with it, within maxRetries and a budget."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from dspex_protocol import ChatResult, ErrorKind, Message, PredictStrategy, ToolCall, Usage

from ..errors import DspexError
from .modes import Answer, read_answer
from .prompt import COMPLETED, OUTPUT_TOOL, Style, marker, parse_text
from .signature import Signature

MAX_ECHOED_ANSWER_CHARS = 8_000
MAX_REPORTED_ERRORS = 20


@dataclass
class Failure:
    """Why one answer could not be used."""

    kind: ErrorKind
    message: str
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def parse_json_answer(raw: str) -> Any:
    """The JSON value of an answer: strict JSON first, json-repair for almost-JSON (code
    fences, trailing commas, a sentence around the object, a cut-off end)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    from json_repair import loads as repair_loads

    try:
        return repair_loads(raw)
    except (ValueError, RecursionError):
        return ""


def _validate(model: type[BaseModel], value: dict[str, Any]) -> dict[str, Any] | Failure:
    try:
        instance = model.model_validate(value)
    except ValidationError as exc:
        missing: list[str] = []
        errors: list[str] = []
        for e in exc.errors(include_url=False, include_input=False):
            loc = ".".join(str(p) for p in e["loc"])
            if e["type"] == "missing" and len(e["loc"]) == 1:
                missing.append(loc)
            else:
                errors.append(f"{loc}: {e['msg']}")
        if missing:
            return Failure(
                ErrorKind.MISSING_FIELDS,
                "the answer lacks " + ", ".join(missing),
                errors[:MAX_REPORTED_ERRORS],
                missing,
            )
        return Failure(
            ErrorKind.VALIDATION_FAILED,
            "the answer does not validate: " + "; ".join(errors[:3]),
            errors[:MAX_REPORTED_ERRORS],
        )
    dumped: dict[str, Any] = instance.model_dump(mode="json", by_alias=True)
    return dumped


def validate_answer(
    answer: Answer, style: Style, sig: Signature, model: type[BaseModel]
) -> dict[str, Any] | Failure:
    """Validated outputs (keyed by field name) or the failure to tell the model about."""
    raw = answer.raw or ""
    if style == "text":
        parsed = parse_text(raw, sig)
        if parsed.missing:
            return Failure(
                ErrorKind.MISSING_FIELDS,
                "the answer lacks the field markers of " + ", ".join(parsed.missing),
                parsed.problems,
                parsed.missing,
            )
        if parsed.problems:
            return Failure(ErrorKind.VALIDATION_FAILED, "; ".join(parsed.problems), parsed.problems)
        return _validate(model, parsed.values)
    value = answer.arguments if answer.arguments is not None else parse_json_answer(raw)
    if not isinstance(value, dict):
        what = "is not JSON" if value == "" else "is JSON but not an object"
        return Failure(ErrorKind.INVALID_JSON_RESPONSE, f"the answer {what}")
    return _validate(model, value)


def correction(failure: Failure, style: Style) -> str:
    """The re-ask: what was wrong, and the format once more."""
    lines = [f"Your previous answer could not be used: {failure.message}."]
    if failure.missing:
        lines.append("Missing fields: " + ", ".join(failure.missing) + ".")
    lines += [f"- {e}" for e in failure.errors[:MAX_REPORTED_ERRORS]]
    if style == "text":
        lines.append(
            "Answer again with every output field under its marker line, ending with "
            f"{marker(COMPLETED)}."
        )
    elif style == "tool":
        lines.append(f"Call the {OUTPUT_TOOL} tool again with every output field, valid.")
    else:
        lines.append("Answer again with one valid JSON object that matches the schema, only.")
    return "\n".join(lines)


@dataclass
class Accounting:
    """Attempts, usage and cost summed over every attempt."""

    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None

    def add(self, result: ChatResult) -> None:
        self.attempts += 1
        u, r = self.usage, result.usage
        u.prompt_tokens += r.prompt_tokens
        u.completion_tokens += r.completion_tokens
        u.total_tokens += r.total_tokens
        if r.cached_tokens is not None:
            u.cached_tokens = (u.cached_tokens or 0) + r.cached_tokens
        if r.reasoning_tokens is not None:
            u.reasoning_tokens = (u.reasoning_tokens or 0) + r.reasoning_tokens
        # Cost is reported by the pipeline once pricing is known; summed when present.
        cost = getattr(result, "cost", None)
        total = getattr(cost, "total", cost)  # ChatResult.cost is {input, output, total}
        if isinstance(total, int | float):
            self.cost = (self.cost or 0.0) + float(total)

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"attempts": self.attempts, "usage": self.usage.to_wire()}
        if self.cost is not None:
            out["cost"] = self.cost
        return out


@dataclass
class Outcome:
    outputs: dict[str, Any]
    tool_calls: list[ToolCall]
    raw: str | None
    accounting: Accounting
    last: ChatResult


Ask = Callable[[list[Message]], Awaitable[ChatResult]]


@dataclass
class RepairPolicy:
    max_retries: int = 2
    token_budget: int | None = None
    cost_budget: float | None = None

    def exhausted(self, acc: Accounting) -> bool:
        over_tokens = self.token_budget is not None and acc.usage.total_tokens >= self.token_budget
        over_cost = (
            self.cost_budget is not None and acc.cost is not None and acc.cost >= self.cost_budget
        )
        return over_tokens or over_cost


def _echo(raw: str | None) -> str:
    text = (raw or "").strip() or "(an empty answer)"
    if len(text) > MAX_ECHOED_ANSWER_CHARS:
        text = text[:MAX_ECHOED_ANSWER_CHARS] + " …(cut)"
    return text


async def run_with_repair(
    ask: Ask,
    messages: Sequence[Message],
    strategy: PredictStrategy,
    style: Style,
    sig: Signature,
    model: type[BaseModel],
    policy: RepairPolicy,
) -> Outcome:
    """Ask, validate, and re-ask with the errors until valid, out of retries or budget."""
    acc = Accounting()
    retry: list[Message] = []
    while True:
        result = await ask([*messages, *retry])
        acc.add(result)
        answer = read_answer(strategy, result.choices[0].message)
        if answer.raw is None:  # the model called the signature's tools: hand them back
            return Outcome({}, answer.tool_calls, None, acc, result)
        checked = validate_answer(answer, style, sig, model)
        if not isinstance(checked, Failure):
            return Outcome(checked, [], answer.raw, acc, result)
        out_of_retries = acc.attempts > policy.max_retries
        if out_of_retries or policy.exhausted(acc):
            raise _final_error(checked, answer.raw, acc, result, budget=not out_of_retries)
        # Only the last failed answer and its errors: a growing failed history would cost
        # tokens on every retry and anchor the model on its earlier mistakes.
        retry = [
            Message(role="assistant", content=_echo(answer.raw)),
            Message(role="user", content=correction(checked, style)),
        ]


def _final_error(
    failure: Failure, raw: str, acc: Accounting, last: ChatResult, budget: bool
) -> DspexError:
    details: dict[str, Any] = {**acc.details(), "rawAnswer": raw}
    if failure.errors:
        details["errors"] = failure.errors
    if failure.missing:
        details["missing"] = failure.missing
    kind, message = failure.kind, failure.message
    if budget:
        details["failure"] = failure.kind.value
        kind = ErrorKind.BUDGET_EXCEEDED
        message = f"the budget is spent after {acc.attempts} attempts ({failure.message})"
    else:
        message = f"{message} (after {acc.attempts} attempts)"
    return DspexError(
        kind,
        message,
        provider=last.provider,
        model=last.model,
        correlation_id=last.correlation_id,
        details=details,
    )
