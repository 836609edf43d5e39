"""A blocking raw-stdio client for fuzzing the daemon from hypothesis (which drives sync
tests): a reader thread splits the daemon's stdout into frames and counts answers per id."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import IO, Any


def frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(body) if length is None else length) + body


class SyncDaemon:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dspex_server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.answers: Counter[Any] = Counter()
        self.messages: dict[Any, dict[str, Any]] = {}
        self.unparsable_frames = 0
        self.other = 0
        self.stderr_tail = bytearray()
        self._cond = threading.Condition()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.proc.stderr,), daemon=True).start()

    def _read(self, out: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                self.unparsable_frames += 1
                continue
            body = out.read(length)
            try:
                msg = json.loads(body)
            except ValueError:
                self.unparsable_frames += 1
                continue
            with self._cond:
                if isinstance(msg, dict) and "method" not in msg and msg.get("id") is not None:
                    self.answers[msg["id"]] += 1
                    self.messages[msg["id"]] = msg
                else:
                    self.other += 1
                self._cond.notify_all()

    def _drain(self, err: IO[bytes]) -> None:
        while chunk := err.read1(65536):  # type: ignore[attr-defined]
            self.stderr_tail = (self.stderr_tail + chunk)[-20000:]

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.write(frame(json.dumps(message).encode()))

    def wait_answered(self, ids: list[Any], wait_s: float = 30.0) -> None:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while not all(self.answers[i] for i in ids):
                left = deadline - time.monotonic()
                missing = [i for i in ids if not self.answers[i]]
                assert left > 0, f"unanswered: {missing[:10]}; alive={self.alive()}"
                assert self.alive(), "the daemon died"
                self._cond.wait(min(left, 0.5))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> int | None:
        try:
            self.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
            self.wait_answered(["bye"], 15)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            return self.proc.wait(15)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            return self.proc.wait()
