"""Deterministic fake embedding vectors, shared by the fakes that serve embeddings."""

from __future__ import annotations

import hashlib
import math


def fake_vector(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from the text's hash: equal texts give equal vectors."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [((digest[i % len(digest)] + 7 * i) % 251) / 125.0 - 1.0 for i in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [round(v / norm, 6) for v in raw]
