"""How a service tells how far long work has come, without knowing who listens (the rpc
layer turns it into LSP work-done progress, rpc/progress.py)."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    def __call__(self, done: int, total: int, message: str | None = None) -> None: ...


def no_progress(done: int, total: int, message: str | None = None) -> None:
    """A sink for callers that do not report progress."""
