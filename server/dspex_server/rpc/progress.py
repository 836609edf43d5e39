"""LSP work-done progress for long work: `$/progress` begin / report (percentage) / end on
the request's `workDoneToken`, or on a token the daemon creates with
`window/workDoneProgress/create` when the client declares `window.workDoneProgress` and gave
none. `window/workDoneProgress/cancel` runs the work's `on_cancel` (by default: cancel the
request's task, which then answers -32800)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from lsprotocol import types

from ..app import DspexServer
from ..progress import ProgressSink, no_progress
from ..services import Services

log = logging.getLogger("dspex.progress")

CREATE_TIMEOUT_S = 5.0


class WorkDone:
    """The reports of one piece of work on one token: percentages only go up, and one is
    sent only when the whole percentage changes (a batch of 10,000 items sends ~100)."""

    def __init__(self, server: DspexServer, token: int | str) -> None:
        self.server = server
        self.token = token
        self.percentage = 0

    def send(self, value: dict[str, Any]) -> None:
        self.server.protocol.send_notification("$/progress", {"token": self.token, "value": value})

    def begin(self, title: str, message: str | None) -> None:
        value: dict[str, Any] = {"kind": "begin", "title": title, "cancellable": True}
        value["percentage"] = 0
        if message:
            value["message"] = message
        self.send(value)

    def __call__(self, done: int, total: int, message: str | None = None) -> None:
        percentage = 100 if total <= 0 else max(0, min(100, done * 100 // total))
        if percentage <= self.percentage:
            return
        self.percentage = percentage
        self.send(
            {"kind": "report", "percentage": percentage, "message": message or f"{done}/{total}"}
        )

    def end(self, message: str) -> None:
        self.send({"kind": "end", "message": message})


def client_creates_progress(server: DspexServer) -> bool:
    caps = server.client_capabilities
    return bool(caps and caps.window and caps.window.work_done_progress)


async def _created_token(server: DspexServer) -> str | None:
    token = f"dspex-{uuid.uuid4().hex[:12]}"
    try:
        await asyncio.wait_for(
            server.protocol.send_request_async(
                types.WINDOW_WORK_DONE_PROGRESS_CREATE,
                types.WorkDoneProgressCreateParams(token=token),
            ),
            CREATE_TIMEOUT_S,
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the client refused or did not answer: work without progress
        log.debug("window/workDoneProgress/create failed: %s", type(exc).__name__)
        return None
    return token


@asynccontextmanager
async def work_done(
    server: DspexServer,
    token: int | str | None,
    title: str,
    *,
    long: bool,
    on_cancel: Callable[[], None] | None = None,
    message: str | None = None,
) -> AsyncIterator[ProgressSink]:
    """A progress sink for the work inside the block: reporting on `token`, or on a token
    created for it when the work is `long` and the client can show it; else `no_progress`."""
    if token is None and long and client_creates_progress(server):
        token = await _created_token(server)
    if token is None or token in server.progress_cancel:
        # No progress asked for, or the token is in use by other work: LSP tokens are unique.
        yield no_progress
        return
    task = asyncio.current_task()
    stop = on_cancel or (task.cancel if task is not None else (lambda: None))
    asked: list[bool] = []

    def cancel() -> None:
        asked.append(True)
        stop()

    server.progress_cancel[token] = cancel
    # pygls' own cancel handler looks tokens up here and warns about unknown ones.
    server.work_done_progress.tokens[token] = Future()
    progress = WorkDone(server, token)
    progress.begin(title, message)
    outcome = "failed"
    try:
        yield progress
        outcome = "done"
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    finally:
        server.progress_cancel.pop(token, None)
        server.work_done_progress.tokens.pop(token, None)
        progress.end("cancelled" if asked else outcome)


def register(server: DspexServer, services: Services) -> None:
    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def on_cancel(params: types.WorkDoneProgressCancelParams) -> None:
        cancel = server.progress_cancel.get(params.token)
        if cancel is not None:
            cancel()
