"""JSON lines in, JSON lines out: one result per input line, in input order, run
concurrently; a failed line is reported in its place without stopping the batch."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import DspexError
from .common import EXIT_OK, EXIT_PARTIAL_FAILURE, fail

LineCall = Callable[[dict[str, Any]], Awaitable[BaseModel]]

RATE_LIMIT_RETRIES = 2
DEFAULT_RATE_LIMIT_PAUSE_S = 1.0
MAX_RATE_LIMIT_PAUSE_S = 30.0


class RateGate:
    """When a provider says `rate_limited`, every worker pauses until its Retry-After."""

    def __init__(self) -> None:
        self._until = 0.0

    async def wait(self) -> None:
        delay = self._until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, retry_after_ms: int | None) -> None:
        seconds = (retry_after_ms / 1000) if retry_after_ms else DEFAULT_RATE_LIMIT_PAUSE_S
        self._until = max(self._until, time.monotonic() + min(seconds, MAX_RATE_LIMIT_PAUSE_S))


class Progress:
    """`[done/total]` on stderr, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.enabled = sys.stderr.isatty() and total > 1

    def step(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.enabled:
            sys.stderr.write(f"\r[{self.done}/{self.total}] {self.failed} failed")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def error_line(line: int, kind: str, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"kind": kind, "message": message, "line": line}
    if data is not None:
        error["data"] = data
    return {"error": error}


async def run_lines(lines: Iterable[str], call: LineCall, concurrency: int) -> int:
    """Run `call` on each non-blank JSON-object line; print results in input order."""
    numbered = [(n, text) for n, text in enumerate(lines, 1) if text.strip()]
    limit = asyncio.Semaphore(max(1, concurrency))
    gate = RateGate()
    progress = Progress(len(numbered))

    async def one(number: int, text: str) -> dict[str, Any]:
        try:
            item = json.loads(text)
        except ValueError as exc:
            return error_line(number, "invalid_input_line", f"not JSON: {exc}")
        if not isinstance(item, dict):
            return error_line(number, "invalid_input_line", "a line must be a JSON object")
        async with limit:
            for attempt in range(RATE_LIMIT_RETRIES + 1):
                await gate.wait()
                try:
                    return (await call(item)).model_dump(
                        mode="json", by_alias=True, exclude_none=True
                    )
                except DspexError as exc:
                    if exc.kind == "rate_limited" and attempt < RATE_LIMIT_RETRIES:
                        data = exc.data if isinstance(exc.data, dict) else {}
                        gate.pause(data.get("retryAfterMs"))
                        continue
                    return error_line(number, exc.kind, exc.message, exc.data)
                except ValidationError as exc:  # params that do not validate on this side
                    first = exc.errors(include_url=False)[0]
                    loc = ".".join(str(p) for p in first["loc"]) or "(params)"
                    return error_line(number, "invalid_params", f"{loc}: {first['msg']}")
                except (TypeError, ValueError) as exc:  # e.g. an unknown option on the line
                    return error_line(number, "invalid_input_line", str(exc))
        raise AssertionError("unreachable")  # pragma: no cover

    tasks = [asyncio.ensure_future(one(n, t)) for n, t in numbered]
    failed = 0
    try:
        for task in tasks:  # in input order, each printed as soon as it and those before are
            out = await task
            is_error = "error" in out
            failed += is_error
            progress.step(is_error)
            if is_error:
                err = out["error"]
                fail(err["kind"], f"line {err['line']}: {err['message']}")
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        progress.close()
        for task in tasks:
            task.cancel()
    return EXIT_PARTIAL_FAILURE if failed else EXIT_OK
