"""Shared helpers of the analytics tests: the array namespaces every function runs on."""

from __future__ import annotations

from typing import Any

import numpy as np

NAMESPACES = ("numpy", "array_api_strict")


def load_namespace(name: str) -> Any:
    if name == "numpy":
        import array_api_compat.numpy as xp

        return xp
    import array_api_strict as xp

    return xp


def host(x: Any) -> np.ndarray[Any, Any]:
    """A NumPy array of any namespace's array."""
    return x if isinstance(x, np.ndarray) else np.from_dlpack(x)
