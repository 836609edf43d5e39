"""A fixed-size ring of floats in one C array (no float object per sample): the analytics
sample windows and the stats latency windows. A burst's last samples kept as Python floats
would stay scattered over the memory the burst used and keep CPython from returning it
(reliability/memory.py)."""

from __future__ import annotations

from array import array
from collections.abc import Iterator

__all__ = ["Ring"]


class Ring:
    """The last `size` floats, oldest first on read."""

    __slots__ = ("_data", "_len", "_start")

    def __init__(self, size: int) -> None:
        self._data = array("d", bytes(8 * size))
        self._start = 0
        self._len = 0

    @property
    def size(self) -> int:
        return len(self._data)

    def __len__(self) -> int:
        return self._len

    def append(self, value: float) -> float | None:
        """Add a value; returns the one it pushed out, if the ring was full."""
        size = len(self._data)
        if self._len < size:
            self._data[(self._start + self._len) % size] = value
            self._len += 1
            return None
        evicted = self._data[self._start]
        self._data[self._start] = value
        self._start = (self._start + 1) % size
        return evicted

    def total(self) -> float:
        """Sum of the held values (unfilled slots are zero), without copying them."""
        return float(sum(self._data))

    def __iter__(self) -> Iterator[float]:
        return iter(self.values())

    def values(self) -> list[float]:
        end = self._start + self._len
        if end <= len(self._data):
            return self._data[self._start : end].tolist()
        return (self._data[self._start :] + self._data[: end - len(self._data)]).tolist()

    def resized(self, size: int) -> Ring:
        ring = Ring(size)
        for v in self.values()[-size:]:
            ring.append(v)
        return ring
