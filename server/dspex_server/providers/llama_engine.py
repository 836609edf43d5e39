"""The blocking side of the llama provider: one loaded GGUF model, its chat template,
grammar-constrained generation and embeddings.

Everything here runs on the model's own worker thread (llama.cpp contexts are not
thread-safe); llama.py drives it from the event loop. llama_cpp is imported here, lazily,
on the first request that needs a model.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dspex_protocol import ErrorKind

from ..errors import DspexError
from .llama_format import StopScanner
from .llama_gguf import GGUFError, context_length, read_metadata

log = logging.getLogger("dspex.llama")

DEFAULT_CONTEXT_CAP = 16384
# A model without a chat template is prompted in ChatML, the most common format.
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_STOP = "<|im_end|>"
# ggml_log_level: 3 WARN, 4 ERROR (DEBUG, INFO and continuation lines are dropped).
_LOG_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
_LOG_CALLBACK: list[Any] = []  # kept referenced: llama.cpp holds a raw pointer to it


@dataclass
class Job:
    """One generation: the rendered prompt and how to sample."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    max_tokens: int | None
    temperature: float
    top_p: float
    seed: int | None
    stop: list[str]
    grammar: str | None = None  # GBNF


@dataclass
class Outcome:
    text: str
    finish: str  # stop | length | cancelled
    prompt_tokens: int
    completion_tokens: int


@dataclass
class ModelSource:
    name: str
    path: str | None
    hf_repo: str | None = None
    hf_file: str | None = None
    n_ctx: int | None = None


def effective_n_ctx(configured: int | None, trained: int | None) -> int:
    """The context window a model runs with: the configured one, else the GGUF's training
    context length, at most DEFAULT_CONTEXT_CAP (the KV cache is allocated for all of it)."""
    return configured or min(trained or DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP)


def _import_llama_cpp() -> Any:
    """llama_cpp, with its C log routed to the `dspex.llama` logger (warnings and errors
    only): llama.cpp would otherwise print every load to stderr."""
    import llama_cpp

    if not _LOG_CALLBACK:

        def forward(level: int, text: bytes, _user: Any) -> None:
            if level in _LOG_LEVELS:
                log.log(_LOG_LEVELS[level], "%s", text.decode("utf-8", "replace").rstrip())

        callback = llama_cpp.llama_log_callback(forward)
        _LOG_CALLBACK.append(callback)
        llama_cpp.llama_log_set(callback, None)
    return llama_cpp


@lru_cache(maxsize=64)
def schema_grammar(schema_json: str) -> str:
    """GBNF for a JSON Schema (llama.cpp's converter, as shipped by llama-cpp-python)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return str(json_schema_to_gbnf(schema_json))


def json_grammar() -> str:
    from llama_cpp.llama_grammar import JSON_GBNF

    return str(JSON_GBNF)


class LoadedModel:
    """A GGUF model in memory: one llama.cpp context for generation and, on first use, one
    in embedding mode (the same file, memory-mapped: the weights are shared)."""

    def __init__(self, source: ModelSource, settings: Any) -> None:
        self.name = source.name
        self.path = _local_path(source)
        try:
            self.metadata = read_metadata(Path(self.path))
        except (OSError, GGUFError) as exc:
            raise DspexError(
                ErrorKind.PROVIDER_NOT_CONFIGURED,
                f"model {source.name!r}: cannot read {self.path}: {exc}",
                model=source.name,
            ) from None
        self.n_ctx_train = context_length(self.metadata)
        self.n_ctx = effective_n_ctx(source.n_ctx or settings.n_ctx, self.n_ctx_train)
        self._settings = settings
        self._embedder: Any = None
        self.sampled = 0  # tokens sampled by every generation so far (tests watch it)
        self.llama = self._open(embedding=False)
        template = self.metadata.get("tokenizer.chat_template")
        self.template = template if isinstance(template, str) and template else CHATML
        self._formatter: Any = None

    def _open(self, *, embedding: bool) -> Any:
        llama_cpp = _import_llama_cpp()
        kwargs: dict[str, Any] = {
            "model_path": self.path,
            "n_ctx": self.n_ctx,
            "n_gpu_layers": self._settings.n_gpu_layers,
            # verbose=False would redirect the process's stdout (fd 1, the daemon's JSON-RPC
            # channel) to /dev/null while the model loads; the C log is routed above.
            "verbose": True,
            "embedding": embedding,
        }
        if self._settings.n_threads:
            kwargs["n_threads"] = self._settings.n_threads
        if embedding:
            kwargs["pooling_type"] = llama_cpp.LLAMA_POOLING_TYPE_MEAN
        try:
            # llama-cpp-python prints the metadata and chat template to sys.stderr while it
            # loads (verbose): kept out of the daemon's log, which has its own stream.
            with contextlib.redirect_stderr(io.StringIO()) as printed:
                llama = llama_cpp.Llama(**kwargs)
            log.debug("loaded %s: %s", self.name, printed.getvalue()[:2000])
            llama.verbose = False  # no per-request prints from here on
            return llama
        except (ValueError, RuntimeError) as exc:
            raise DspexError(
                ErrorKind.API_ERROR,
                f"llama.cpp could not load model {self.name!r} ({type(exc).__name__})",
                model=self.name,
                retryable=False,
            ) from None

    # -- prompts ------------------------------------------------------------------------

    def _piece(self, token: int) -> str:
        if token < 0:
            return ""
        return bytes(self.llama.detokenize([token], special=True)).decode("utf-8", "replace")

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> str:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=self.template,
                eos_token=self._piece(self.llama.token_eos()),
                bos_token=self._piece(self.llama.token_bos()),
            )
        try:
            return str(self._formatter(messages=messages, tools=tools).prompt)
        except Exception as exc:  # a template's raise_exception, or a Jinja error
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"the chat template of {self.name!r} refused the messages: {exc}",
                model=self.name,
            ) from None

    def tokenize(self, prompt: str) -> list[int]:
        bos = self._piece(self.llama.token_bos())
        add_bos = bool(self.llama._model.add_bos_token()) and not (bos and prompt.startswith(bos))
        return list(self.llama.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

    # -- generation ---------------------------------------------------------------------

    def generate(
        self, job: Job, emit: Callable[[str], None], cancelled: threading.Event
    ) -> Outcome:
        """Sample until an end-of-generation token, a stop sequence, max tokens or the
        context's end; `emit` gets the text as it is decoded. The cancel flag is read before
        each token, so a cancelled request stops within one token."""
        llama_cpp = _import_llama_cpp()
        prompt = self.render(job.messages, job.tools)
        tokens = self.tokenize(prompt)
        room = self.n_ctx - len(tokens)
        if room <= 0:
            raise DspexError(
                ErrorKind.INVALID_MESSAGES,
                f"the prompt is {len(tokens)} tokens; the context window of {self.name!r} is "
                f"{self.n_ctx} tokens (context length exceeded)",
                model=self.name,
                details={"code": "context_length_exceeded"},
            )
        limit = min(job.max_tokens or room, room)
        stops = [*job.stop, *([CHATML_STOP] if self.template is CHATML else [])]
        scanner = StopScanner(stops)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        grammar = None
        if job.grammar is not None:
            grammar = llama_cpp.LlamaGrammar.from_string(job.grammar, verbose=False)
        # Without a seed each request samples afresh (llama.cpp would reuse the context's).
        self.llama.set_seed(job.seed if job.seed is not None else secrets.randbits(31))
        vocab = self.llama._model.vocab
        parts: list[str] = []
        count, finish, hit = 0, "length", False
        stream = self.llama.generate(
            tokens,
            temp=job.temperature,
            top_p=job.top_p,
            top_k=40,
            min_p=0.05,
            repeat_penalty=1.0,
            grammar=grammar,
        )
        try:
            for token in stream:
                if cancelled.is_set():
                    finish = "cancelled"
                    break
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                count += 1
                self.sampled += 1
                text = decoder.decode(bytes(self.llama.detokenize([token])))
                out, hit = scanner.feed(text)
                if out:
                    parts.append(out)
                    emit(out)
                if hit:
                    finish = "stop"
                    break
                if count >= limit:
                    break
        finally:
            stream.close()
        if not hit:
            tail = scanner.flush() + decoder.decode(b"", final=True)
            if tail and finish != "cancelled":
                parts.append(tail)
                emit(tail)
        return Outcome("".join(parts), finish, len(tokens), count)

    # -- embeddings ---------------------------------------------------------------------

    @property
    def dimensions(self) -> int:
        return int(self.llama.n_embd())

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        if self._embedder is None:
            self._embedder = self._open(embedding=True)
        vectors, count = self._embedder.embed(texts, normalize=True, return_count=True)
        return [list(map(float, v)) for v in vectors], int(count)


def _local_path(source: ModelSource) -> str:
    """The model file: the configured path, or the Hugging Face file (downloaded on first
    use into the Hugging Face cache; needs network and huggingface-hub)."""
    if source.path is not None:
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise DspexError(
                ErrorKind.PROVIDER_NOT_CONFIGURED,
                f"model {source.name!r}: no GGUF file at {path}",
                model=source.name,
            )
        return str(path)
    assert source.hf_repo is not None and source.hf_file is not None
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise DspexError(
            ErrorKind.PROVIDER_NOT_CONFIGURED,
            f"model {source.name!r} is fetched from Hugging Face: pip install huggingface-hub",
            model=source.name,
        ) from None
    try:
        return str(hf_hub_download(repo_id=source.hf_repo, filename=source.hf_file))
    except Exception as exc:  # offline, unknown repo or file: said without the token
        raise DspexError(
            ErrorKind.NETWORK_ERROR,
            f"model {source.name!r}: could not fetch {source.hf_file} from {source.hf_repo} "
            f"({type(exc).__name__})",
            model=source.name,
            retryable=False,
        ) from None


def dump_schema(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, ensure_ascii=False)
