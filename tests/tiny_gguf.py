"""A tiny llama-architecture GGUF written by the tests themselves (no weights downloaded).

The vocabulary is character-level SentencePiece ("llama" tokenizer): the control tokens,
the 256 byte-fallback tokens llama.cpp needs for any input, `▁` for the space, and one token
per printable ASCII character. With no multi-character token, tokenizing ASCII text is one
token per character, so a test can check usage against the tokenizer exactly; and every
character JSON needs is a token of its own, so a JSON-schema grammar can always complete.

The weights are random (fixed seed) except one residual dimension that every token embeds
with a large constant: after the final RMS norm it reads as a constant, so the output row's
entry in that dimension acts as a per-token bias. It keeps byte-fallback tokens (whose
pieces can be partial UTF-8) and the end-of-sequence token unlikely, so the model writes
ASCII text and runs to `max_tokens`, and makes the closing quote a little likelier, so
that JSON strings under a grammar end within tens of characters rather than hundreds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_LAYER = 2
CONTEXT_LENGTH = 12288
SPACE = "\u2581"
CONTROL = ("<unk>", "<s>", "</s>")
BYTES = tuple(f"<0x{b:02X}>" for b in range(256))
CHARS = (SPACE, *(chr(c) for c in range(0x21, 0x7F)))
TOKENS = (*CONTROL, *BYTES, *CHARS)
BOS_ID, EOS_ID = 1, 2
# Deterministic chat formatting: roles in brackets, tools listed in the system turn.
CHAT_TEMPLATE = (
    # Newlines as expressions: llama-cpp-python renders with trim_blocks, which would drop
    # a literal newline after a block tag.
    "{{ bos_token }}"
    "{% if tools %}[tools] {{ tools | tojson }}{{ '\\n' }}{% endif %}"
    "{% for m in messages %}"
    "[{{ m['role'] }}] {{ m['content'] if m['content'] is string else '' }}"
    "{% if m.get('tool_calls') %}{{ m['tool_calls'] | tojson }}{% endif %}{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


def render_prompt(messages: list[dict[str, str]]) -> str:
    """What the chat template renders for plain text messages (what a test expects)."""
    turns = "".join(f"[{m['role']}] {m['content']}\n" for m in messages)
    return f"<s>{turns}[assistant] "


def write_tiny_gguf(path: Path, seed: int = 17) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    _write_metadata(writer)
    _write_tensors(writer, rng)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _write_metadata(writer: Any) -> None:
    import gguf

    n_vocab = len(TOKENS)
    writer.add_name("dspex-tiny-test")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    types = (
        [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        + [gguf.TokenType.BYTE] * len(BYTES)
        + [gguf.TokenType.NORMAL] * len(CHARS)
    )
    writer.add_tokenizer_model("llama")
    writer.add_token_list(list(TOKENS))
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types([int(t) for t in types])
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def _write_tensors(writer: Any, rng: np.random.Generator) -> None:
    n_vocab = len(TOKENS)

    def rand(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embed = rand(n_vocab, N_EMBD)
    embed[:, 0] = 4.0  # the constant dimension (see the module docstring)
    output = rand(n_vocab, N_EMBD, scale=0.3)
    output[:, 0] = -2.0  # control and byte tokens: far below the characters
    output[len(CONTROL) + len(BYTES) :, 0] = 0.0
    output[TOKENS.index('"'), 0] = 0.2
    writer.add_tensor("token_embd.weight", embed)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    kv = N_EMBD // N_HEAD * N_HEAD_KV
    for i in range(N_LAYER):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_k.weight", rand(kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_v.weight", rand(kv, N_EMBD))
        writer.add_tensor(f"blk.{i}.attn_output.weight", rand(N_EMBD, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", rand(N_FF, N_EMBD))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", rand(N_EMBD, N_FF))
