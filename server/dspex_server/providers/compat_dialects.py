"""What each Chat Completions provider row takes beyond the common format: the options it
maps (the rest is refused before anything is sent), how `reasoning` and `serverTools` are
asked for, which parts it accepts, how an answer's reasoning goes back in the history.

One `Dialect` per row, from each provider's API reference; models whose reasoning is
controlled differently are listed by id (exact, or a prefix followed by `-`, `:` or `.`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dspex_protocol import ErrorKind, ReasoningConfig, ServerToolSpec

from ..catalog.data import lookup
from ..errors import DspexError

ReasoningMapper = Callable[[str, ReasoningConfig], dict[str, Any]]
ServerToolMapper = Callable[[str, list[ServerToolSpec]], dict[str, Any]]

COMMON = frozenset({"seed", "response_format"})
SAMPLING = frozenset({"frequency_penalty", "presence_penalty"})
TOOLING = frozenset({"parallel_tool_calls", "strict"})


class Refused(Exception):
    """A value the provider cannot honour; the adapter turns it into invalid_messages."""


def refused(provider: str, model: str, exc: Refused) -> DspexError:
    return DspexError(
        ErrorKind.INVALID_MESSAGES,
        f"provider {provider!r}: {exc} (model {model!r})",
        provider=provider,
        model=model,
    )


def model_family(model: str, families: Mapping[str, str]) -> str | None:
    """The family of `model` in `families` (id -> family): an exact id, else the longest id
    the name starts with, followed by `-`, `:`, `.` or `/` (dated and tagged variants)."""
    name = model.lower()
    if name in families:
        return families[name]
    best = None
    for model_id in families:
        if any(name.startswith(model_id + sep) for sep in "-:./") and (
            best is None or len(model_id) > len(best)
        ):
            best = model_id
    return None if best is None else families[best]


def _no_summary(cfg: ReasoningConfig) -> None:
    if cfg.summary is not None:
        raise Refused(
            "reasoning.summary needs OpenAI's Responses API; Chat Completions returns no "
            "reasoning summary"
        )


# -- reasoning per provider --------------------------------------------------------------


def openai_reasoning(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
    """o-series and gpt-5 models: `reasoning_effort`; no token budget on this API."""
    del model
    _no_summary(cfg)
    if cfg.budget_tokens is not None:
        raise Refused("OpenAI takes a reasoning effort (low, medium, high), not budgetTokens")
    return {"reasoning_effort": cfg.effort} if cfg.effort else {}


def effort_only(provider: str) -> ReasoningMapper:
    """`reasoning_effort` as given (LM Studio, gpt-oss on Groq)."""

    def mapper(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
        del model
        _no_summary(cfg)
        if cfg.budget_tokens is not None:
            raise Refused(f"{provider} takes a reasoning effort, not budgetTokens")
        return {"reasoning_effort": cfg.effort} if cfg.effort else {}

    return mapper


GROQ_FAMILIES = {"openai/gpt-oss": "gpt-oss", "qwen/qwen3": "qwen3", "qwen3": "qwen3"}


def groq_reasoning(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
    """gpt-oss: `reasoning_effort` low/medium/high, reasoning always in `message.reasoning`.
    Qwen3: reasoning on or off (`reasoning_effort` default/none) and `reasoning_format:
    parsed`, so that the reasoning arrives in its own field rather than in <think> tags."""
    _no_summary(cfg)
    family = model_family(model, GROQ_FAMILIES)
    if family == "gpt-oss":
        return effort_only("groq")(model, cfg)
    if family == "qwen3":
        if cfg.effort is not None:
            raise Refused("Qwen3 on Groq reasons or not: no effort levels (leave effort out)")
        if cfg.budget_tokens == 0:
            return {"reasoning_effort": "none"}
        if cfg.budget_tokens is not None:
            raise Refused("Qwen3 on Groq takes no reasoning budget (only 0: reasoning off)")
        return {"reasoning_format": "parsed"}
    raise Refused(
        f"reasoning on Groq is mapped for gpt-oss and Qwen3 models, not {model!r} "
        "(groq/compound reasons on its own: leave reasoning out)"
    )


MISTRAL_FAMILIES = {
    "magistral-medium": "native",
    "magistral-small": "native",
    "mistral-small-latest": "adjustable",
    "mistral-small-2603": "adjustable",
    "mistral-medium-3-5": "adjustable",
}


def mistral_reasoning(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
    """Magistral models always reason (no control). Mistral Small 4 and Medium 3.5:
    `reasoning_effort` high (thinking on) or none (off)."""
    _no_summary(cfg)
    family = model_family(model, MISTRAL_FAMILIES)
    if family == "native":
        if cfg.effort is not None or cfg.budget_tokens is not None:
            raise Refused("Magistral models always reason: no effort or budget to set")
        return {}
    if family == "adjustable":
        if cfg.budget_tokens == 0:
            return {"reasoning_effort": "none"}
        if cfg.budget_tokens is not None:
            raise Refused("Mistral takes no reasoning budget (only 0: reasoning off)")
        if cfg.effort not in (None, "high"):
            raise Refused("Mistral's reasoning_effort is high or none: effort must be high")
        return {"reasoning_effort": "high"}
    raise Refused(
        f"reasoning on Mistral is mapped for Magistral and Mistral Small 4, not {model!r}"
    )


XAI_FAMILIES = {"grok-3-mini": "effort"}


def xai_reasoning(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
    """grok-3-mini: `reasoning_effort` low or high (no medium). Other Grok reasoning models
    (grok-4, ...) always reason and refuse `reasoning_effort`."""
    _no_summary(cfg)
    if cfg.budget_tokens is not None:
        raise Refused("xAI takes no reasoning budget")
    if model_family(model, XAI_FAMILIES) == "effort":
        if cfg.effort == "medium":
            raise Refused("grok-3-mini's reasoning_effort is low or high (no medium)")
        return {"reasoning_effort": cfg.effort} if cfg.effort else {}
    if cfg.effort is not None:
        raise Refused(f"{model!r} always reasons and takes no reasoning effort on xAI")
    return {}


def openrouter_reasoning(model: str, cfg: ReasoningConfig) -> dict[str, Any]:
    """OpenRouter's unified `reasoning` object: an effort or a token budget, not both."""
    del model
    _no_summary(cfg)
    if cfg.effort is not None and cfg.budget_tokens is not None:
        raise Refused("OpenRouter takes a reasoning effort or budgetTokens, not both")
    if cfg.budget_tokens == 0:
        return {"reasoning": {"effort": "none"}}
    if cfg.budget_tokens is not None:
        return {"reasoning": {"max_tokens": cfg.budget_tokens}}
    if cfg.effort is not None:
        return {"reasoning": {"effort": cfg.effort}}
    return {"reasoning": {"enabled": True}}


# -- server-side tools -------------------------------------------------------------------


def openai_server_tools(model: str, specs: list[ServerToolSpec]) -> dict[str, Any]:
    """Web search on Chat Completions is `web_search_options` (search models only)."""
    del model
    body: dict[str, Any] = {}
    for spec in specs:
        if spec.name != "web_search":
            raise Refused(f"OpenAI Chat Completions has no server tool {spec.name!r}")
        body["web_search_options"] = dict(spec.config)
    return body


GROQ_COMPOUND = {"groq/compound": "compound", "compound-beta": "compound"}
# common name -> Groq Compound's built-in tool name
GROQ_BUILTINS = {
    "web_search": "web_search",
    "code_execution": "code_interpreter",
    "web_fetch": "visit_website",
    "browser_automation": "browser_automation",
    "wolfram_alpha": "wolfram_alpha",
}


def groq_server_tools(model: str, specs: list[ServerToolSpec]) -> dict[str, Any]:
    """Groq's Compound systems choose among built-in tools (`compound_custom.tools.
    enabled_tools`); a web_search config is Groq's `search_settings`."""
    if model_family(model, GROQ_COMPOUND) is None:
        raise Refused(f"Groq runs built-in tools in groq/compound systems, not {model!r}")
    body: dict[str, Any] = {}
    enabled = []
    for spec in specs:
        native = GROQ_BUILTINS.get(spec.name)
        if native is None:
            raise Refused(f"Groq Compound has no built-in tool {spec.name!r}")
        if spec.config and spec.name != "web_search":
            raise Refused(f"Groq's {native} takes no configuration")
        if spec.config:
            body["search_settings"] = dict(spec.config)
        enabled.append(native)
    body["compound_custom"] = {"tools": {"enabled_tools": enabled}}
    return body


def openrouter_server_tools(model: str, specs: list[ServerToolSpec]) -> dict[str, Any]:
    """OpenRouter's web plugin grounds any model (`plugins: [{"id": "web", ...}]`)."""
    del model
    plugins = []
    for spec in specs:
        if spec.name != "web_search":
            raise Refused(f"OpenRouter has no server tool {spec.name!r} (only web_search)")
        plugins.append({"id": "web", **spec.config})
    return {"plugins": plugins}


# -- the rows ----------------------------------------------------------------------------


def _refused_by_reasoning_models(
    provider: str, options: frozenset[str]
) -> Callable[[str], frozenset[str]]:
    """Options the provider's reasoning models (per the catalog) answer with an error:
    xAI's presencePenalty and frequencyPenalty (and stop); OpenAI's penalties and logprobs
    on o-series and gpt-5 models."""

    def unmapped(model: str) -> frozenset[str]:
        entry = lookup(provider, model)
        if entry is not None and "reasoning" in entry.capabilities:
            return options
        return frozenset()

    return unmapped


def _nothing(model: str) -> frozenset[str]:
    del model
    return frozenset()


@dataclass(frozen=True)
class Dialect:
    options: frozenset[str] = COMMON
    max_tokens_field: str = "max_tokens"
    seed_field: str = "seed"
    user_field: str = "user"
    reasoning: ReasoningMapper | None = None
    server_tools: ServerToolMapper | None = None
    # How an answer's reasoning goes back in the history: OpenRouter `reasoning_details`,
    # Mistral `thinking` chunks; None: the API takes none back and it is left out.
    reasoning_back: Literal["details", "thinking"] | None = None
    # Document parts: OpenAI `file` parts, Mistral `document_url`; None: refused.
    documents: Literal["file", "document_url"] | None = None
    document_urls: bool = False  # a `file` part may name a URL (OpenRouter)
    audio: bool = False  # `input_audio` parts (wav, mp3)
    # cacheControl: honoured by automatic prefix caching (reported in usage), or sent as
    # `cache_control` on text parts (OpenRouter to Anthropic/Gemini models).
    cache: Literal["automatic", "parts"] | None = None
    metadata_needs_store: bool = False
    refusal_field: bool = False  # an earlier refusal goes back as `refusal` (else as text)
    # `stream_options.include_usage`: Mistral refuses the field (422) and sends the usage
    # in its last chunk anyway.
    stream_usage_option: bool = True
    stop_refused_when_reasoning: bool = False
    unmapped: Callable[[str], frozenset[str]] = field(default=_nothing)

    def mapped(self, model: str) -> frozenset[str]:
        return self.options - self.unmapped(model)


DIALECTS: dict[str, Dialect] = {
    "openai": Dialect(
        options=COMMON
        | SAMPLING
        | TOOLING
        | {"reasoning", "n", "logprobs", "top_logprobs", "user", "metadata"}
        | {"cache_control", "server_tools"},
        max_tokens_field="max_completion_tokens",
        user_field="safety_identifier",
        reasoning=openai_reasoning,
        server_tools=openai_server_tools,
        documents="file",
        audio=True,
        cache="automatic",
        metadata_needs_store=True,
        refusal_field=True,
        unmapped=_refused_by_reasoning_models("openai", SAMPLING | {"logprobs", "top_logprobs"}),
    ),
    "groq": Dialect(
        options=COMMON
        | {"reasoning", "parallel_tool_calls", "user", "cache_control"}
        | {"server_tools"},
        reasoning=groq_reasoning,
        server_tools=groq_server_tools,
        cache="automatic",
    ),
    "mistral": Dialect(
        options=COMMON | SAMPLING | {"reasoning", "n", "parallel_tool_calls"},
        seed_field="random_seed",
        stream_usage_option=False,
        reasoning=mistral_reasoning,
        reasoning_back="thinking",
        documents="document_url",
    ),
    "xai": Dialect(
        options=COMMON
        | SAMPLING
        | {"reasoning", "n", "logprobs", "top_logprobs", "parallel_tool_calls", "user"}
        | {"cache_control"},
        reasoning=xai_reasoning,
        cache="automatic",
        stop_refused_when_reasoning=True,
        unmapped=_refused_by_reasoning_models("xai", SAMPLING),
    ),
    "perplexity": Dialect(options=COMMON | SAMPLING),
    "openrouter": Dialect(
        options=COMMON
        | SAMPLING
        | TOOLING
        | {"reasoning", "logprobs", "top_logprobs", "user", "cache_control", "server_tools"},
        reasoning=openrouter_reasoning,
        server_tools=openrouter_server_tools,
        reasoning_back="details",
        documents="file",
        document_urls=True,
        audio=True,
        cache="parts",
    ),
    "lmstudio": Dialect(
        options=COMMON | SAMPLING | {"reasoning"}, reasoning=effort_only("lmstudio")
    ),
}
# A compatible server under another row name: the common format only.
DEFAULT_DIALECT = Dialect()


def dialect_for(provider: str) -> Dialect:
    return DIALECTS.get(provider, DEFAULT_DIALECT)
