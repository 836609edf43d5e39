"""Which array namespace runs the numbers: NumPy, CuPy, or (in tests) `array_api_strict`.

Every numerical function in this package takes the namespace `xp` as its first argument
and uses only what the Python array API standard defines, so one code path serves all
three. Nothing here imports NumPy or CuPy at module import: the daemon starts without them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any, Literal

log = logging.getLogger(__name__)

BackendName = Literal["auto", "numpy", "cupy"]
# Array namespaces and arrays are typed loosely: the standard has no static types yet.
Namespace = Any
Array = Any


class AnalyticsInputError(ValueError):
    """Input the analytics cannot use (NaN, mismatched dimensions, ...): the caller's fault,
    reported as invalid params with this message."""


@functools.cache
def _numpy_namespace() -> Namespace:
    import array_api_compat.numpy as xp

    return xp


@functools.cache
def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device. Checked once."""
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount()) > 0
    except Exception as exc:  # ImportError, CUDARuntimeError, driver errors...
        log.debug("CuPy not usable: %s", type(exc).__name__)
        return False


def _cupy_namespace() -> Namespace:
    import array_api_compat.cupy as xp

    return xp


def namespace(backend: BackendName, work_elements: int = 0, gpu_min_elements: int = 0) -> Namespace:
    """The namespace for a piece of work. `auto` takes CuPy only if it imports, a GPU is
    present and the work touches at least `gpu_min_elements` elements (transfers and kernel
    launches cost more than they save on small windows); otherwise NumPy."""
    if backend == "numpy":
        return _numpy_namespace()
    if backend == "cupy":
        if not cupy_available():
            raise AnalyticsInputError(
                "analytics.backend is 'cupy' but CuPy is not installed or sees no GPU "
                "(install dspex[gpu], or use backend 'auto')"
            )
        return _cupy_namespace()
    if work_elements >= gpu_min_elements and cupy_available():
        return _cupy_namespace()
    return _numpy_namespace()


def namespace_name(xp: Namespace) -> str:
    name = getattr(xp, "__name__", "")
    if "cupy" in name:
        return "cupy"
    if "strict" in name:
        return "array_api_strict"
    return "numpy"


def float_dtype(xp: Namespace) -> Any:
    return xp.float64


def as_float_array(xp: Namespace, values: Sequence[float] | Any, what: str) -> Array:
    """A 1-D float64 array of `values`; NaN and infinities are refused with a clear error."""
    arr = xp.asarray(values, dtype=xp.float64)
    if arr.ndim != 1:
        raise AnalyticsInputError(f"{what}: expected a flat list of numbers")
    bad = ~xp.isfinite(arr)
    if bool(xp.any(bad)):
        index = int(xp.argmax(xp.astype(bad, xp.int8)))
        raise AnalyticsInputError(f"{what}: value at index {index} is NaN or infinite")
    return arr


def to_host(x: Array) -> Any:
    """A NumPy view/copy of any namespace's array (for JSON output and host-side merges)."""
    import numpy as np

    if isinstance(x, np.ndarray):
        return x
    get = getattr(x, "get", None)  # CuPy: device → host
    if callable(get) and type(x).__module__.startswith("cupy"):
        return get()
    return np.from_dlpack(x)


def to_list(x: Array) -> list[Any]:
    out: list[Any] = to_host(x).tolist()
    return out
