"""The Predictor service: a signature and inputs → prompt → `pipeline.chat` → validated
outputs, through the repair loop. Knows nothing of JSON-RPC."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from dspex_protocol import (
    ChatParams,
    ChatResult,
    Demo,
    Message,
    PredictParams,
    PredictResult,
)

from ..errors import DspexError
from ..pipeline import Pipeline
from ..telemetry import new_correlation_id
from .model import build_model, json_schema, strict_schema
from .modes import prompt_style, request_parts, select_strategy
from .prompt import OUTPUT_TOOL, build_messages
from .repair import RepairPolicy, run_with_repair
from .signature import Signature, SignatureError, input_field, load_signature, output_field


def prepare_signature(params: PredictParams) -> Signature:
    """The signature with instructions, chain of thought and tools applied, and every
    field's type resolved (defaults by name for untyped outputs)."""
    sig = load_signature(params.signature).with_instructions(params.instructions)
    if params.chain_of_thought:
        sig = sig.with_reasoning()
    tools = [*sig.tools, *(params.tools or ())]
    names = [t.name for t in tools]
    if OUTPUT_TOOL in names:
        raise SignatureError(f"the tool name {OUTPUT_TOOL!r} is reserved", ("tools",))
    if len(set(names)) != len(names):
        raise SignatureError("tool names must be distinct", ("tools",))
    return Signature(
        inputs=tuple(input_field(f) for f in sig.inputs),
        outputs=tuple(output_field(f) for f in sig.outputs),
        instructions=sig.instructions,
        tools=tuple(tools),
    )


def check_inputs(sig: Signature, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs validated against the signature's input fields (loc `inputs.<name>`)."""
    unknown = sorted(set(inputs) - set(sig.input_names))
    if unknown:
        error = SignatureError(
            f"unknown input {unknown[0]!r} (the signature's inputs: "
            f"{', '.join(sig.input_names) or 'none'})",
            ("inputs", unknown[0]),
        )
        raise error
    model = build_model("Inputs", sig.inputs)
    try:
        validated: dict[str, Any] = model.model_validate(dict(inputs)).model_dump(
            mode="json", by_alias=True
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)
        error = SignatureError(f"invalid inputs: {first[0]['msg']}", ("inputs",))
        error.errors = [
            {"loc": ["inputs", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in first
        ]
        raise error from None
    return {k: v for k, v in validated.items() if k in inputs or v is not None}


def check_demos(sig: Signature, demos: Sequence[Demo]) -> None:
    """Demos name only the signature's fields (a typo would silently teach the wrong thing)."""
    for i, demo in enumerate(demos):
        for side, given, known in (
            ("inputs", demo.inputs, sig.input_names),
            ("outputs", demo.outputs, sig.output_names),
        ):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise SignatureError(
                    f"demo {i} names unknown {side[:-1]} field {unknown[0]!r}",
                    ("demos", i, side, unknown[0]),
                )


class Predictor:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    async def predict(self, params: PredictParams) -> PredictResult:
        started = time.perf_counter()
        correlation_id = params.correlation_id or new_correlation_id()
        sig = prepare_signature(params)
        inputs = check_inputs(sig, params.inputs)
        check_demos(sig, params.demos or ())
        output_model = build_model("Outputs", sig.outputs)
        schema = json_schema(output_model)
        try:
            probe, fallbacks = self.pipeline.failover.fallbacks_for(
                ChatParams(
                    messages=[Message(role="user", content="-")],
                    provider=params.provider,
                    model=params.model,
                    fallbacks=params.fallbacks,
                    failover_on=params.failover_on,
                )
            )
            provider, model, notices = self.pipeline.resolve(probe)
            spec = self.pipeline.registry.spec(provider)
        except DspexError as exc:
            exc.correlation_id = correlation_id
            raise
        mode = params.mode or "structured"
        strategy = select_strategy(mode, spec)
        style = prompt_style(strategy)
        messages = build_messages(
            sig, inputs, params.demos or [], style, schema if style == "json" else None
        )
        parts = request_parts(
            strategy, schema, strict_schema(schema), list(sig.tools), spec.wire_format
        )

        async def ask(attempt: list[Message]) -> ChatResult:
            return await self.pipeline.chat(
                ChatParams(
                    messages=attempt,
                    provider=provider,
                    model=model,
                    temperature=params.temperature,
                    max_tokens=params.max_tokens,
                    tools=parts.tools,
                    tool_choice=parts.tool_choice,
                    response_format=parts.response_format,
                    timeout_ms=params.timeout_ms,
                    correlation_id=correlation_id,
                    fallbacks=fallbacks or None,
                    failover_on=params.failover_on,
                )
            )

        policy = RepairPolicy(params.max_retries, params.token_budget, params.cost_budget)
        outcome = await run_with_repair(ask, messages, strategy, style, sig, output_model, policy)
        return PredictResult(
            outputs=outcome.outputs,
            attempts=outcome.accounting.attempts,
            usage=outcome.accounting.usage,
            cost=outcome.accounting.cost,
            mode=mode,
            strategy=strategy,
            provider=outcome.last.provider,
            model=outcome.last.model,
            correlation_id=correlation_id,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            raw_answer=outcome.raw,
            tool_calls=outcome.tool_calls or None,
            notices=[*notices, *(outcome.last.notices or ())] or None,
            failover=outcome.last.attempts,
        )
