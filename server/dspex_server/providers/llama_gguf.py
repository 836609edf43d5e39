"""The scalar metadata of a GGUF file, read from its header without loading the model.

The llama provider needs a model's training context length (`<arch>.context_length`)
before it creates a llama.cpp context (whose KV cache is sized by it), and `list_models`
reports it for files not yet loaded. Arrays (the vocabulary) are skipped, not decoded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
# value type -> struct format of the fixed-size scalars
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALARS |= {10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
MAX_STRING = 1 << 24  # a longer key or value means the header is corrupt


class GGUFError(ValueError):
    """The file is not a GGUF file this reader understands."""


Scalar = int | float | bool | str


def _read(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise GGUFError("truncated GGUF header")
    return data


def _u64(stream: BinaryIO) -> int:
    value: int = struct.unpack("<Q", _read(stream, 8))[0]
    return value


def _string(stream: BinaryIO) -> str:
    size = _u64(stream)
    if size > MAX_STRING:
        raise GGUFError("implausible string length in GGUF header")
    return _read(stream, size).decode("utf-8", errors="replace")


def _value(stream: BinaryIO, vtype: int) -> Scalar | None:
    """A scalar's value; arrays are skipped (None)."""
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        value: Scalar = struct.unpack(fmt, _read(stream, struct.calcsize(fmt)))[0]
        return value
    if vtype == _STRING:
        return _string(stream)
    if vtype == _ARRAY:
        item = struct.unpack("<I", _read(stream, 4))[0]
        count = _u64(stream)
        if item in _SCALARS:
            stream.seek(count * struct.calcsize(_SCALARS[item]), 1)
        else:
            for _ in range(count):
                _value(stream, item)
        return None
    raise GGUFError(f"unknown GGUF value type {vtype}")


def read_metadata(path: Path) -> dict[str, Scalar]:
    """Every scalar key-value of the header (strings, numbers, booleans)."""
    with path.open("rb") as stream:
        if stream.read(4) != MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file")
        version = struct.unpack("<I", _read(stream, 4))[0]
        if version < 2:
            raise GGUFError(f"GGUF version {version} is too old")
        _u64(stream)  # tensor count
        count = _u64(stream)
        metadata: dict[str, Scalar] = {}
        for _ in range(count):
            key = _string(stream)
            vtype = struct.unpack("<I", _read(stream, 4))[0]
            value = _value(stream, vtype)
            if value is not None:
                metadata[key] = value
        return metadata


def context_length(metadata: dict[str, Scalar]) -> int | None:
    """The training context length of the model's architecture, where the file says."""
    arch = metadata.get("general.architecture")
    value = metadata.get(f"{arch}.context_length") if isinstance(arch, str) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None
