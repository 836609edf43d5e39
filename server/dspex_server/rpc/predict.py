"""`dspex/predict`, `dspex/predict/batch` (with work-done progress) and the `dspex.predict`
command for generic LSP clients."""

from __future__ import annotations

import asyncio
from typing import Any

from pygls.exceptions import JsonRpcException

from dspex_protocol import PredictBatchParams, PredictParams
from dspex_protocol import methods as m

from ..app import DspexServer
from ..errors import DspexError, InvalidParams
from ..services import Services
from .base import internal_error, method, parse_params
from .progress import work_done

COMMAND = "dspex.predict"


def register(server: DspexServer, services: Services) -> None:
    async def run(params: PredictParams) -> Any:
        from ..predict.signature import SignatureError

        try:
            return await services.predictor.predict(params)
        except SignatureError as exc:
            raise InvalidParams(
                f"{m.PREDICT.name}: {exc}", data={"method": m.PREDICT.name, "errors": exc.errors}
            ) from None

    method(server, m.PREDICT)(run)

    @method(server, m.PREDICT_BATCH)
    async def batch(params: PredictBatchParams) -> Any:
        from ..predict.batch import item_params, run_batch
        from ..predict.signature import SignatureError

        try:
            items = item_params(params)
        except SignatureError as exc:
            name = m.PREDICT_BATCH.name
            data = {"method": name, "errors": exc.errors}
            raise InvalidParams(f"{name}: {exc}", data=data) from None
        stop = asyncio.Event()
        async with work_done(
            server,
            params.work_done_token,
            "dspex: predict batch",
            long=len(items) > 1,
            on_cancel=stop.set,
            message=f"0/{len(items)} items",
        ) as progress:
            return await run_batch(
                items, run, concurrency=params.concurrency, progress=progress, stop=stop
            )

    @server.command(COMMAND)
    async def predict_command(*args: Any) -> Any:
        # pygls 2 unpacks `arguments` positionally: one object, shaped like the params.
        if len(args) != 1 or not isinstance(args[0], dict):
            raise InvalidParams(
                f"{COMMAND}: arguments must be one object shaped like dspex/predict's params",
                data={
                    "method": COMMAND,
                    "errors": [{"loc": ["arguments"], "msg": "one object", "type": "type_error"}],
                },
            )
        params = parse_params(m.PREDICT, args[0])
        try:
            result = await run(params)
        except DspexError as exc:
            raise exc.to_jsonrpc() from None
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as exc:
            raise internal_error(exc) from None
        return result.to_wire()
