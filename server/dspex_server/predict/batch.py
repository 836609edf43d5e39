"""`dspex/predict/batch`: one signature on many inputs, `concurrency` at a time. Every
item's inputs are checked before any item runs (a bad one refuses the request, like any
invalid params); a provider failure is that item's error; a stop answers what is done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from dspex_protocol import (
    ErrorData,
    ErrorKind,
    PredictBatchItem,
    PredictBatchParams,
    PredictBatchResult,
    PredictOptions,
    PredictParams,
    PredictResult,
)

from ..errors import DspexError
from ..progress import ProgressSink
from .service import check_demos, check_inputs, prepare_signature
from .signature import SignatureError

log = logging.getLogger("dspex.predict")

PredictOne = Callable[[PredictParams], Awaitable[PredictResult]]


def item_params(params: PredictBatchParams) -> list[PredictParams]:
    """One `dspex/predict` params per item; SignatureError (loc `inputs.<i>...`) when an
    item's inputs do not fit the signature."""
    shared: dict[str, Any] = {name: getattr(params, name) for name in PredictOptions.model_fields}
    sig = prepare_signature(PredictParams(**shared))
    check_demos(sig, params.demos or ())
    out = []
    for i, inputs in enumerate(params.inputs):
        try:
            check_inputs(sig, inputs)
        except SignatureError as exc:
            for error in exc.errors:
                error["loc"] = ["inputs", i, *error["loc"][1:]]
            raise
        # Each item's own id, within the field's 200 characters.
        correlation = f"{params.correlation_id[:190]}-{i}" if params.correlation_id else None
        out.append(PredictParams(**{**shared, "correlation_id": correlation}, inputs=inputs))
    return out


async def run_batch(
    items: list[PredictParams],
    predict: PredictOne,
    *,
    concurrency: int,
    progress: ProgressSink,
    stop: asyncio.Event,
) -> PredictBatchResult:
    total = len(items)
    answers: list[PredictBatchItem | None] = [None] * total
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(index: int, params: PredictParams) -> None:
        nonlocal done
        async with limit:
            try:
                answers[index] = PredictBatchItem(index=index, result=await predict(params))
            except DspexError as exc:
                answers[index] = PredictBatchItem(index=index, error=exc.data())
            except Exception as exc:  # as dspex/predict answers it: the type, never the text
                log.error("internal error in a batch item: %s", type(exc).__name__)
                error = ErrorData(
                    kind=ErrorKind.INTERNAL_ERROR, message=f"internal error ({type(exc).__name__})"
                )
                answers[index] = PredictBatchItem(index=index, error=error)
        done += 1
        progress(done, total, f"{done}/{total} items")

    tasks = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(items)]
    stopped = asyncio.ensure_future(stop.wait())
    try:
        everything: asyncio.Future[Any] = asyncio.gather(*tasks)
        waited: list[asyncio.Future[Any]] = [everything, stopped]
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        for task in tasks:  # on a stop, or when the request itself is cancelled
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    ran = [a for a in answers if a is not None]
    cancelled = ErrorData(kind=ErrorKind.CANCELLED, message="the batch was cancelled")
    return PredictBatchResult(
        items=[a or PredictBatchItem(index=i, error=cancelled) for i, a in enumerate(answers)],
        succeeded=sum(a.result is not None for a in ran),
        failed=sum(a.error is not None for a in ran),
        cancelled=stop.is_set(),
    )
