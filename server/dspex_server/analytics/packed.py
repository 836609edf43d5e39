"""Decoding `PackedVectors` (base64 of little-endian float32) into a NumPy matrix without
a Python-level loop: one base64 decode, a zero-copy `frombuffer`, one finiteness pass."""

from __future__ import annotations

from typing import Any

from dspex_protocol.analytics import PackedVectors

from .backend import AnalyticsInputError


def decode_packed(packed: PackedVectors, what: str = "packedVectors") -> Any:
    """A read-only rows × dimensions float32 array of `packed`. Invalid base64, NaN or
    infinities raise AnalyticsInputError naming the first bad value."""
    import numpy as np

    try:
        raw = packed.to_bytes()
    except ValueError as exc:
        raise AnalyticsInputError(f"{what}: {exc}") from None
    m = np.frombuffer(raw, dtype="<f4").reshape(packed.rows, packed.dimensions)
    finite = np.isfinite(m)
    if not finite.all():
        row, col = divmod(int(np.argmin(finite.ravel())), packed.dimensions)
        raise AnalyticsInputError(f"{what}: value at row {row}, column {col} is NaN or infinite")
    return m
