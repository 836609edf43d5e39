"""A loopback fake OpenAI Chat Completions server built to be cheap, so that it is never
what a proxy benchmark measures: a raw asyncio protocol (uvloop when installed) with a
hand-rolled HTTP/1.1 keep-alive parser and pre-built responses.

  python fake_openai.py [--port 0] [--no-uvloop]    prints "PORT <n>" once listening

POST .../chat/completions answers a fixed `chat.completion`; with `"stream": true` the same
answer as `chat.completion.chunk` SSE events and `data: [DONE]` (plus a usage chunk when
`stream_options.include_usage` is set), as OpenAI documents.

Model `bench-chunks-<N>-<GAP_US>` streams N content deltas, GAP_US microseconds apart (0: all
in one write), each delta `"<seq>:<ns>;"` with `ns` = `time.monotonic_ns()` just before the
write (CLOCK_MONOTONIC is system-wide: a client on this machine measures each delta's
delivery delay against it). Sent chunked (Transfer-Encoding), then the finish chunk, the
usage chunk where asked for, and `[DONE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import cast

CREATED = int(time.time())
USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


COMPLETION = _json(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! This is a fake reply."},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
)


def _chunk(delta: dict[str, str], finish: str | None = None, usage: bool = False) -> bytes:
    obj: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage:
        obj["usage"] = USAGE
    return b"data: " + _json(obj) + b"\n\n"


_CHUNKS = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Hello!"}),
    _chunk({"content": " This is"}),
    _chunk({"content": " a fake reply."}),
    _chunk({}, finish="stop"),
]


def _response(body: bytes, content_type: bytes, status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 %b\r\ncontent-type: %b\r\ncontent-length: %d\r\n\r\n%b" % (
        status,
        content_type,
        len(body),
        body,
    )


JSON_RESPONSE = _response(COMPLETION, b"application/json")
SSE_RESPONSE = _response(b"".join([*_CHUNKS, b"data: [DONE]\n\n"]), b"text/event-stream")
SSE_USAGE_RESPONSE = _response(
    b"".join([*_CHUNKS, _chunk({}, usage=True), b"data: [DONE]\n\n"]), b"text/event-stream"
)
NOT_FOUND = _response(
    b'{"error":{"message":"not found","type":"invalid_request_error"}}',
    b"application/json",
    b"404 Not Found",
)


CHUNKS_MODEL = b'"bench-chunks-'
_CHUNK_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,'
    b'"model":"%b","choices":[{"index":0,"delta":{"content":"'
)
_CHUNK_TAIL = b'"},"finish_reason":null}]}\n\n'


def _chunked(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (Transfer-Encoding: chunked)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def chunks_plan(body: bytes) -> tuple[bytes, int, float, bool] | None:
    """(model, deltas, gap seconds, include usage) of a `bench-chunks-N-GAP` stream."""
    try:
        request = json.loads(body)
        model = str(request["model"])
        _, _, count, gap_us = model.split("-")
        usage = bool((request.get("stream_options") or {}).get("include_usage"))
        return model.encode(), int(count), int(gap_us) / 1e6, usage
    except (ValueError, KeyError, TypeError):
        return None


class FakeOpenAIProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.streaming: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.streaming is None:
            self.serve_buffer()

    def serve_buffer(self) -> None:
        buf = self.buffer
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            length = 0
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(buf) < total:
                return
            body = bytes(buf[end + 4 : total])
            del buf[:total]
            assert self.transport is not None
            if CHUNKS_MODEL in body and b"/chat/completions" in head.split(b"\r\n", 1)[0]:
                plan = chunks_plan(body)
                if plan is not None:
                    # Later requests on this connection wait in the buffer until it ends.
                    self.streaming = asyncio.ensure_future(self.paced(*plan))
                    return
            self.transport.write(self.answer(head, body))

    async def paced(self, model: bytes, count: int, gap_s: float, usage: bool) -> None:
        transport = self.transport
        assert transport is not None
        head = _CHUNK_HEAD % (CREATED, model)
        transport.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        try:
            if gap_s <= 0:
                stamp = time.monotonic_ns()
                events = b"".join(head + b"%d:%d;" % (i, stamp) + _CHUNK_TAIL for i in range(count))
                transport.write(_chunked(events))
            else:
                for i in range(count):
                    if i:
                        await asyncio.sleep(gap_s)
                    if transport.is_closing():
                        return
                    event = head + b"%d:%d;" % (i, time.monotonic_ns()) + _CHUNK_TAIL
                    transport.write(_chunked(event))
            tail = _chunk({}, finish="stop").replace(b"gpt-4o-mini", model)
            if usage:
                tail += _chunk({}, usage=True).replace(b"gpt-4o-mini", model)
            transport.write(_chunked(tail + b"data: [DONE]\n\n") + b"0\r\n\r\n")
        finally:
            self.streaming = None
            if not transport.is_closing() and self.buffer:
                self.serve_buffer()

    @staticmethod
    def answer(head: bytes, body: bytes) -> bytes:
        line = head.split(b"\r\n", 1)[0]
        if not line.startswith(b"POST ") or b"/chat/completions" not in line:
            return NOT_FOUND
        compact = body.replace(b" ", b"")
        if b'"stream":true' not in compact:
            return JSON_RESPONSE
        return SSE_USAGE_RESPONSE if b'"include_usage":true' in compact else SSE_RESPONSE


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeOpenAIProtocol, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    try:
        runner(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
