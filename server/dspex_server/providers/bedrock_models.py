"""What a Bedrock model id says about the model: its vendor and family, and how (or
whether) Converse can ask it to reason or to run Nova's built-in tools.

Model ids are `vendor.name` (`anthropic.claude-sonnet-4-5-20250929-v1:0`), optionally
behind a cross-region inference profile's geography (`us.`, `eu.`, `apac.`, `global.`,
...). An ARN (application inference profile, provisioned throughput) names no family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dspex_protocol import ErrorKind, ReasoningConfig

from ..errors import DspexError

GEOGRAPHIES = frozenset({"us", "eu", "apac", "global", "jp", "au", "ca", "us-gov"})

# Claude extended thinking (as on the Anthropic API): a budget of at least 1024 tokens,
# below maxTokens. An effort without a budget takes these.
CLAUDE_MIN_BUDGET = 1024
CLAUDE_EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}
# Room left for the answer after the thinking budget when no maxTokens is given.
CLAUDE_ANSWER_TOKENS = 4096
# Nova 2 requires an effort with reasoning on; `reasoning: {}` asks for this one.
NOVA_DEFAULT_EFFORT = "medium"

# Nova's built-in ("system") tools, by dspex's common server-tool name.
NOVA_SYSTEM_TOOLS = {"code_execution": "nova_code_interpreter", "web_search": "nova_grounding"}


@dataclass(frozen=True)
class Family:
    vendor: str  # "anthropic", "amazon", "deepseek", "openai", ... ("" for an ARN)
    name: str  # the rest of the id: "claude-sonnet-4-5-20250929-v1:0"

    @property
    def claude(self) -> bool:
        return self.vendor == "anthropic"

    @property
    def nova2(self) -> bool:
        return self.vendor == "amazon" and self.name.startswith("nova-2-")

    @property
    def always_reasons(self) -> bool:
        """Models that reason on every request and take no switch for it."""
        return (self.vendor == "deepseek" and self.name.startswith("r1")) or self.gpt_oss

    @property
    def gpt_oss(self) -> bool:
        return self.vendor == "openai" and self.name.startswith("gpt-oss")

    @property
    def can_reason(self) -> bool:
        return self.claude or self.nova2 or self.always_reasons

    @property
    def has_system_tools(self) -> bool:
        """Nova 2 and Nova Premier run Nova's built-in tools (`systemTool`)."""
        return self.nova2 or (self.vendor == "amazon" and self.name.startswith("nova-premier"))


def family(model: str) -> Family:
    if model.startswith("arn:"):
        return Family("", model)
    head, _, rest = model.partition(".")
    if head in GEOGRAPHIES and "." in rest:
        head, _, rest = rest.partition(".")
    return Family(head, rest) if rest else Family("", model)


def _refuse(message: str, provider: str, model: str) -> DspexError:
    return DspexError(ErrorKind.INVALID_MESSAGES, message, provider=provider, model=model)


def reasoning_fields(
    reasoning: ReasoningConfig, max_tokens: int | None, provider: str, model: str
) -> tuple[dict[str, Any], int | None]:
    """The `additionalModelRequestFields` that ask `model` to reason, and the maxTokens
    to send (Claude's thinking budget must fit below it)."""
    fam = family(model)
    budget, effort = reasoning.budget_tokens, reasoning.effort
    if fam.claude:
        if budget == 0:
            return {"thinking": {"type": "disabled"}}, max_tokens
        if budget is None:
            budget = CLAUDE_EFFORT_BUDGET[effort or "low"]
            if max_tokens is not None:  # an effort fits the budget under the answer's cap
                budget = min(budget, max_tokens - 1)
        if budget < CLAUDE_MIN_BUDGET:
            raise _refuse(
                f"Claude's thinking budget is at least {CLAUDE_MIN_BUDGET} tokens "
                f"(asked: {budget}; with maxTokens {max_tokens})",
                provider,
                model,
            )
        if max_tokens is None:
            max_tokens = budget + CLAUDE_ANSWER_TOKENS
        elif budget >= max_tokens:
            raise _refuse(
                f"Claude's thinking budget ({budget}) must be below maxTokens ({max_tokens})",
                provider,
                model,
            )
        return {"thinking": {"type": "enabled", "budget_tokens": budget}}, max_tokens
    if fam.nova2:
        if budget == 0:
            return {"reasoningConfig": {"type": "disabled"}}, max_tokens
        if budget is not None and effort is None:
            raise _refuse(
                "Nova 2 takes a reasoning effort (low, medium, high), not a token budget",
                provider,
                model,
            )
        config = {"type": "enabled", "maxReasoningEffort": effort or NOVA_DEFAULT_EFFORT}
        return {"reasoningConfig": config}, max_tokens
    if fam.always_reasons:
        if budget == 0:
            raise _refuse(f"{model} always reasons: it cannot be turned off", provider, model)
        if fam.gpt_oss and effort is not None:
            return {"reasoning_effort": effort}, max_tokens
        return {}, max_tokens
    raise _refuse(
        f"provider {provider!r} has no documented way to ask {model!r} to reason",
        provider,
        model,
    )
