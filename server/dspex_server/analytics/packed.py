"""Decoding packed floats (`PackedVectors`, `PackedValues`: base64 of little-endian float32
or float64) into NumPy arrays without a Python-level loop: one base64 decode, a zero-copy
`frombuffer`, one finiteness pass."""

from __future__ import annotations

from typing import Any

from dspex_protocol.analytics import PackedValues, PackedVectors

from .backend import AnalyticsInputError


def _decode(packed: PackedVectors | PackedValues, what: str) -> Any:
    import numpy as np

    try:
        raw = packed.to_bytes()
    except ValueError as exc:
        raise AnalyticsInputError(f"{what}: {exc}") from None
    return np.frombuffer(raw, dtype="<f4" if packed.dtype == "float32" else "<f8")


def _first_bad(flat: Any) -> int | None:
    import numpy as np

    finite = np.isfinite(flat)
    return None if finite.all() else int(np.argmin(finite))


def decode_packed(packed: PackedVectors, what: str = "packedVectors") -> Any:
    """A read-only rows × dimensions array of `packed` (its dtype). Invalid base64, NaN or
    infinities raise AnalyticsInputError naming the first bad value."""
    flat = _decode(packed, what)
    bad = _first_bad(flat)
    if bad is not None:
        row, col = divmod(bad, packed.dimensions)
        raise AnalyticsInputError(f"{what}: value at row {row}, column {col} is NaN or infinite")
    return flat.reshape(packed.rows, packed.dimensions)


def decode_values(packed: PackedValues, what: str = "packedSamples") -> Any:
    """A read-only 1-D array of `packed`; refused like `decode_packed`."""
    flat = _decode(packed, what)
    bad = _first_bad(flat)
    if bad is not None:
        raise AnalyticsInputError(f"{what}: value at index {bad} is NaN or infinite")
    return flat
