"""The peer for the daemon-overhead scenario: a minimal pygls 2.x server with one async
method, `bench/echo`, that returns its params.

  python echo_server.py            pygls' defaults (params as namedtuples, thread-pool stdin)
  python echo_server.py --tuned    tuned as dspex is: params kept as dicts, stdin read by
                                   an asyncio StreamReader fed to pygls' `run_async`

Exits at EOF on stdin.
"""

from __future__ import annotations

import sys
from typing import Any

from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)

TUNED = "--tuned" in sys.argv


def dict_converter() -> Any:
    converter = default_converter()  # type: ignore[no-untyped-call]
    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        converter.register_structure_hook(cls, lambda obj, c: c(**obj))
    return converter


server = LanguageServer(
    "bench-echo", "1.0", converter_factory=dict_converter if TUNED else default_converter
)


def _plain(value: Any) -> Any:
    """pygls' default converter hands custom params over as namedtuples: back to dicts."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@server.feature("bench/echo")
async def echo(params: Any) -> Any:
    return params if TUNED else _plain(params)


def serve_tuned() -> None:
    import asyncio
    import logging
    import threading

    from pygls.io_ import StdoutWriter, run_async

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin.buffer)
        server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
        await run_async(
            stop_event=threading.Event(),
            reader=reader,
            protocol=server.protocol,
            logger=logging.getLogger("bench.echo"),
            error_handler=server.report_server_error,
        )

    asyncio.run(main())


if __name__ == "__main__":
    if TUNED:
        serve_tuned()
    else:
        server.start_io()
