"""The floor for relaying a stream through a second process: the least a Python asyncio
process can do to pass SSE deltas from the fake OpenAI server on as `$/progress` frames
over stdio. No HTTP client library, no validation, no pipeline, no coalescing: a raw
protocol on one keep-alive connection, each `data:` event's content written to stdout the
moment it is parsed.

  python relay.py --port N     then LSP-framed `relay/stream {model, token}` requests on stdin

The `chunks` scenario runs it beside the daemon: what dspex adds per chunk beyond this is
dspex's own cost; what this adds over a direct read is the cost of the extra process hop
on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n%b" % (len(body), body)


class Upstream(asyncio.Protocol):
    """One keep-alive connection to the fake; one stream at a time."""

    def __init__(self) -> None:
        self.buffer = b""
        self.current: tuple[Any, str] | None = None  # (request id, token)
        self.text: list[str] = []
        self.idle = asyncio.get_running_loop().create_future()
        self.idle.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.current is not None:
            start = self.buffer.find(b"data: ")
            if start < 0:
                return
            end = self.buffer.find(b"\n\n", start)
            if end < 0:
                return
            payload = self.buffer[start + 6 : end]
            self.buffer = self.buffer[end + 2 :]
            msg_id, token = self.current
            if payload == b"[DONE]":
                self.current = None
                self.buffer = b""
                answer = {"choices": [{"message": {"content": "".join(self.text)}}]}
                self.text = []
                os.write(1, frame({"jsonrpc": "2.0", "id": msg_id, "result": answer}))
                self.idle.set_result(None)
                return
            choices = json.loads(payload)["choices"]
            if choices and choices[0]["delta"].get("content"):
                piece = choices[0]["delta"]["content"]
                self.text.append(piece)
                value = {"index": 0, "delta": {"content": piece}}
                params = {"token": token, "value": value}
                os.write(1, frame({"jsonrpc": "2.0", "method": "$/progress", "params": params}))


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, upstream = await loop.create_connection(Upstream, "127.0.0.1", port)
    while True:
        header = await reader.readuntil(b"\r\n\r\n")
        length = int(header.split(b":")[1].split(b"\r\n")[0])
        message = json.loads(await reader.readexactly(length))
        if "id" not in message:
            continue
        if message["method"] != "relay/stream":
            os.write(1, frame({"jsonrpc": "2.0", "id": message["id"], "result": {}}))
            continue
        await upstream.idle
        params = message["params"]
        body = json.dumps({"model": params["model"], "messages": [], "stream": True}).encode()
        upstream.idle = loop.create_future()
        upstream.current = (message["id"], params["token"])
        transport.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    with contextlib.suppress(asyncio.IncompleteReadError, KeyboardInterrupt):
        asyncio.run(main(parser.parse_args().port))
