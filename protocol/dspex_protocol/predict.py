"""`dspex/predict`: structured prediction from a signature (`"question -> answer"`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, JsonValue

from ._base import WireModel
from .chat import Attempt, FailoverCause, FallbackTarget, ToolCall, ToolDefinition, Usage
from .errors import ErrorData

PredictMode = Literal["text", "json", "structured"]
PredictStrategy = Literal["text", "json_schema", "json_object", "tool", "prompt_json"]


class FieldSpec(WireModel):
    """One input or output field of a signature in its JSON form.

    `type` is a type expression in the string form's syntax (`str`, `int`, `float`, `bool`,
    `list[str]`, `dict[str, int]`, `Literal['a', 'b']`, `Optional[int]`, `int | None`,
    `Any`); left out, the type follows from the name (`confidence` → low/medium/high,
    `score` → number in 0..1, else a string).
    """

    name: str = Field(min_length=1, max_length=64)
    type: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=4000)
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    choices: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    pattern: str | None = Field(default=None, max_length=1000)
    optional: bool = False
    default: JsonValue | None = Field(
        default=None, description="A default makes the field optional; null means none."
    )


class SignatureSpec(WireModel):
    """The JSON form of a signature: what the string form says, plus descriptions,
    constraints, instructions and tools."""

    inputs: list[FieldSpec] = Field(default_factory=list, max_length=100)
    outputs: list[FieldSpec] = Field(min_length=1, max_length=100)
    instructions: str | None = Field(default=None, max_length=20_000)
    tools: list[ToolDefinition] | None = None


class Demo(WireModel):
    """A worked example shown to the model before the real inputs (few-shot)."""

    inputs: dict[str, JsonValue]
    outputs: dict[str, JsonValue]


class PredictOptions(WireModel):
    """What `dspex/predict` and `dspex/predict/batch` share: the signature and how to run it."""

    signature: str | SignatureSpec = Field(
        description='"question, context -> answer", a typed string form, or the JSON form'
    )
    provider: str | None = None
    model: str | None = None
    demos: list[Demo] | None = Field(default=None, max_length=100)
    mode: PredictMode | None = Field(
        default=None,
        description="text: field markers; json: JSON mode and the schema in the prompt; "
        "structured (default): the provider's native structured output.",
    )
    max_retries: int = Field(default=2, ge=0, le=10)
    fallbacks: list[FallbackTarget] | None = Field(
        default=None,
        max_length=8,
        description="Fail-over targets (as dspex/chat; a `route:NAME` provider or model too).",
    )
    failover_on: list[FailoverCause] | None = None
    chain_of_thought: bool = False
    instructions: str | None = Field(default=None, max_length=20_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    tools: list[ToolDefinition] | None = None
    token_budget: int | None = Field(
        default=None, gt=0, description="Total tokens all attempts together may use."
    )
    cost_budget: float | None = Field(
        default=None, gt=0, description="Total cost (USD) all attempts together may use."
    )
    timeout_ms: int | None = Field(default=None, gt=0)
    correlation_id: str | None = Field(default=None, max_length=200)


class PredictParams(PredictOptions):
    inputs: dict[str, JsonValue] = Field(default_factory=dict)


class PredictResult(WireModel):
    outputs: dict[str, JsonValue]
    attempts: int
    usage: Usage
    cost: float | None = None
    mode: PredictMode
    strategy: PredictStrategy
    provider: str
    model: str
    correlation_id: str
    latency_ms: float
    raw_answer: str | None = None
    tool_calls: list[ToolCall] | None = Field(
        default=None, description="Calls of the signature's tools; outputs are then empty."
    )
    notices: list[str] | None = None
    failover: list[Attempt] | None = Field(
        default=None,
        description="With fallbacks or a route: the targets the last answer's request tried "
        "(as dspex/chat's `attempts`).",
    )

    def to_wire(self) -> dict[str, Any]:
        """As every result, but `cost` is always there: null until pricing is known."""
        wire = super().to_wire()
        wire["cost"] = self.cost
        return wire


MAX_BATCH_ITEMS = 10_000


class PredictBatchParams(PredictOptions):
    """One signature run on many inputs, `concurrency` at a time; each item is answered in
    its place, a failed item does not stop the others."""

    inputs: list[dict[str, JsonValue]] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS, description="One inputs object per item."
    )
    concurrency: int = Field(default=4, ge=1, le=32, description="Items in flight at once.")
    work_done_token: int | str | None = Field(
        default=None,
        description="Work-done progress (`$/progress` begin/report/end) on this token; "
        "`window/workDoneProgress/cancel` stops the batch and answers what is done.",
    )


class PredictBatchItem(WireModel):
    """One item's answer: `result`, or `error` (ErrorData; kind `cancelled` for items the
    batch did not run because it was cancelled)."""

    index: int
    result: PredictResult | None = None
    error: ErrorData | None = None


class PredictBatchResult(WireModel):
    items: list[PredictBatchItem] = Field(description="In input order.")
    succeeded: int
    failed: int
    cancelled: bool = Field(
        default=False, description="The batch was stopped by `window/workDoneProgress/cancel`."
    )

    def to_wire(self) -> dict[str, Any]:
        """As every result, but each item's `cost` is there as in `dspex/predict`."""
        wire = super().to_wire()
        for item, out in zip(self.items, wire["items"], strict=True):
            if item.result is not None:
                out["result"]["cost"] = item.result.cost
        return wire
