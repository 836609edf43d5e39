"""docs/providers.md, generated from the provider table so that the doc cannot drift.

python -m dspex_server.providers.matrix --write docs/providers.md   # regenerate
python -m dspex_server.providers.matrix --check docs/providers.md   # exit 1 if stale

Per-provider notes (options, reasoning, server tools, caching) are written by hand in
`docs/providers/<provider>.md` beside the output file and included after the tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from .settings import DEFAULT_AWS_REGION
from .table import FALLBACK_PROVIDER, LOCAL_EMBEDDER, PROVIDERS, ProviderSpec

# Column order of the feature matrix, with what each capability means.
CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("chat", "`dspex/chat`"),
    ("streaming", "streamed deltas over `$/progress`"),
    ("tools", "tool definitions, `toolChoice`, tool calls and results"),
    ("json_mode", "`responseFormat: json_object`"),
    ("json_schema", "`responseFormat: json_schema`"),
    ("vision", "image parts in messages"),
    ("embeddings", "`dspex/embed`"),
    ("models", "live model listing from the provider"),
)

WIRE_FORMATS: dict[str, str] = {
    "openai_compat": "Chat Completions (`POST /chat/completions`, SSE)",
    "openai_responses": "Responses API (`POST /responses`, typed SSE events)",
    "anthropic": "Messages API (`POST /v1/messages`, SSE)",
    "gemini": "generateContent / streamGenerateContent",
    "ollama": "Ollama native (`/api/chat` NDJSON, `/api/embed`, `/api/tags`)",
    "bedrock": "Converse / ConverseStream (SigV4, AWS event stream), InvokeModel",
    "llama": "in-process GGUF models (llama.cpp via llama-cpp-python)",
    "local": "in-process (wordllama)",
    "mock": "in-process, scriptable",
}


def _code(values: Iterable[str]) -> str:
    items = [f"`{v}`" for v in values]
    return ", ".join(items) if items else "—"


def _credentials(spec: ProviderSpec) -> str:
    parts = list(spec.key_envs)
    if spec.credential_settings:
        parts += [e for s in spec.credential_settings for e in spec.setting_envs.get(_camel(s), ())]
    if not parts:
        return "none"
    return _code(parts)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _configured_when(spec: ProviderSpec) -> str:
    if spec.name == FALLBACK_PROVIDER:
        return "always"
    if spec.requires_module and spec.configured_by:
        keys = " or ".join(f"`{_camel(f)}`" for f in spec.configured_by)
        return f"`{spec.requires_module}` is importable and {keys} is set"
    if spec.requires_module:
        return f"`{spec.requires_module}` is importable"
    if not spec.needs_key:
        return "a base URL is given"
    if spec.credential_settings:
        return "an API key, or an access key id and secret, is given"
    return "an API key is given"


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _notes(notes: Path | None) -> list[str]:
    """The hand-written notes, one file per provider, in the table's order."""
    if notes is None or not notes.is_dir():
        return []
    files = {p.stem: p for p in notes.glob("*.md")}
    known = [spec.name for spec in PROVIDERS if spec.name in files]
    names = known + sorted(set(files) - set(known))
    if not names:
        return []
    lines = [
        "",
        "## Provider notes",
        "",
        "Written by hand in `docs/providers/<provider>.md` and included here.",
    ]
    for name in names:
        lines += ["", files[name].read_text(encoding="utf-8").strip("\n")]
    return lines


def generate(notes: Path | None = None) -> str:
    """The document; `notes`: the folder of hand-written provider notes."""
    lines = [
        "# Providers",
        "",
        "<!-- Generated from server/dspex_server/providers/table.py by",
        "     `python -m dspex_server.providers.matrix --write docs/providers.md`.",
        "     Do not edit by hand: a test compares this file with the generator. -->",
        "",
        "One row per provider; providers that share a wire format share one adapter. A request",
        "without `provider` goes to `defaultProvider`, else to the first configured provider",
        "(in this table's order) that can chat, else to the built-in `mock` (and says so).",
        f"`dspex/embed` without `provider` uses `{LOCAL_EMBEDDER}` (in-process, offline) when it "
        "is available.",
        "",
        "Every setting can also be given in editor settings or the TOML file as",
        "`providers.<name>.{apiKey, baseUrl, defaultModel, defaultEmbeddingModel, ...}`; the",
        "provider's own `<NAME>_BASE_URL` variable always overrides the base URL.",
        "",
        "## Features",
        "",
        _row(["provider", *(c for c, _ in CAPABILITIES)]),
        _row(["---", *(":-:" for _ in CAPABILITIES)]),
    ]
    for spec in PROVIDERS:
        marks = ("✓" if cap in spec.capabilities else "—" for cap, _ in CAPABILITIES)
        lines.append(_row([f"`{spec.name}`", *marks]))
    lines += ["", *(f"- **{cap}**: {meaning}" for cap, meaning in CAPABILITIES), ""]
    lines += [
        "## Wire formats, endpoints and defaults",
        "",
        _row(
            [
                "provider",
                "wire format",
                "default base URL",
                "default chat model",
                "default embedding model",
            ]
        ),
        _row(["---"] * 5),
    ]
    for spec in PROVIDERS:
        lines.append(
            _row(
                [
                    f"`{spec.name}`",
                    WIRE_FORMATS.get(spec.wire_format, f"`{spec.wire_format}`"),
                    f"`{spec.default_base_url}`" if spec.default_base_url else "—",
                    f"`{spec.default_model}`" if spec.default_model else "—",
                    f"`{spec.default_embedding_model}`" if spec.default_embedding_model else "—",
                ]
            )
        )
    if any("{region}" in (spec.default_base_url or "") for spec in PROVIDERS):
        lines += [
            "",
            f"`{{region}}` is the configured AWS region (default `{DEFAULT_AWS_REGION}`).",
        ]
    lines += [
        "",
        "## Configuration from the environment",
        "",
        _row(["provider", "configured when", "credentials", "base URL", "other settings"]),
        _row(["---"] * 5),
    ]
    for spec in PROVIDERS:
        other = [
            f"`{name}`: {_code(envs)}"
            for name, envs in spec.setting_envs.items()
            if name not in {_camel(s) for s in spec.credential_settings}
        ]
        lines.append(
            _row(
                [
                    f"`{spec.name}`",
                    _configured_when(spec),
                    _credentials(spec),
                    _code(spec.base_url_env_names())
                    if spec.wire_format not in ("llama", "local", "mock")
                    else "—",
                    "; ".join(other) if other else "—",
                ]
            )
        )
    lines += ["", *LOCAL_MODELS]
    lines += _notes(notes)
    lines.append("")
    return "\n".join(lines)


# Why two in-process providers, and how the llama provider is configured.
LOCAL_MODELS = (
    "## In-process models: `llama` and `local`",
    "",
    "Two providers run models inside the daemon, with no server and no key:",
    "",
    "- `llama`: GGUF models on llama.cpp (`pip install 'dspex[llama]'`, which compiles",
    "  llama-cpp-python): chat, streaming, tools, JSON mode and JSON Schema output",
    "  constrained by grammar, and embeddings from the same file.",
    "- `local`: wordllama's static embeddings, whose weights ship in its wheel: the offline",
    "  default of `dspex/embed`, ready with no model file at all.",
    "",
    "They stay two providers rather than one with a capability per model: they differ in",
    "everything a provider row holds (the package, how it is configured, what it can do,",
    "when it counts as configured), and `local` must keep working where llama.cpp is not",
    "installed or no GGUF file is named. `llama` is configured once `llama_cpp` imports and",
    "a model is named; it is then the default for chat when no remote provider is",
    "configured (it comes after the local servers in the table's order).",
    "",
    "```toml",
    "[providers.llama]",
    'model_path = "~/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"  # named by its stem',
    "# n_ctx = 8192        # default: the GGUF's context_length, at most 16384",
    "# n_threads = 4       # default: llama.cpp's choice",
    "# n_gpu_layers = 0    # -1: all layers (a CUDA/Metal build of llama-cpp-python)",
    "",
    "[providers.llama.models.phi]  # more models, by name",
    'path = "~/models/phi-3.5-mini-instruct-q4_k_m.gguf"',
    "",
    "[providers.llama.models.qwen-hf]  # fetched on first use (network, huggingface-hub)",
    'hf_repo = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"',
    'hf_file = "qwen2.5-0.5b-instruct-q4_k_m.gguf"',
    "```",
    "",
    "`DSPEX_LLAMA_MODEL_PATH` sets `model_path`; a request's `model` may also be the path of",
    "a `.gguf` file. Each model is loaded once, on first use, and served by a worker thread",
    "of its own (requests to one model run one at a time); the context window comes from",
    "the file's metadata, usage from llama.cpp's token counts, and the cost is 0 (the",
    "result's `notices` say so). Prompts are formatted with the file's own chat template",
    "(ChatML when it has none). `responseFormat` json_schema, a forced tool call",
    "(`toolChoice` required or named) and `dspex/predict` are constrained by a grammar built",
    "from the JSON Schema (llama.cpp's converter: types, enums, required fields, string",
    "lengths and formats, array sizes; integer ranges of up to 256 values are made enums),",
    "so the answer always parses; numeric bounds beyond that are left to `dspex/predict`'s",
    "validation. With `toolChoice` auto, a `<tool_call>{...}</tool_call>` block or a bare",
    "JSON call naming a tool is read as a tool call. Cancelling a request stops generation",
    "within a token.",
    "",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="write the matrix to this file")
    group.add_argument("--check", type=Path, help="exit 1 if this file is not up to date")
    args = parser.parse_args(argv)
    target = args.write or args.check
    text = generate(target.parent / target.stem if target is not None else None)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = args.check.read_text(encoding="utf-8") if args.check.is_file() else ""
        if current != text:
            print(f"{args.check} is stale: run --write {args.check}", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    from dspex_protocol._pipes import quiet_on_closed_pipe

    raise SystemExit(quiet_on_closed_pipe(main))
