"""Hypothesis against the running daemon over raw stdio: malformed frames, invalid JSON and
UTF-8, wrong types, huge strings, deep nesting, random methods and params. The daemon never
dies, and every request with an id gets exactly one answer. ≥ 10,000 cases per run, batched
into few daemon processes to keep it fast."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fuzz_client import SyncDaemon, frame
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dspex_protocol.methods import ALL

BATCH = 50
EXAMPLES = int(__import__("os").environ.get("DSPEX_FUZZ_EXAMPLES", "210"))  # × BATCH = 10,500 cases
LIFECYCLE = frozenset({"initialize", "shutdown", "exit"})
KNOWN_METHODS = [
    *(m.name for m in ALL),
    "workspace/executeCommand",
    "workspace/didChangeConfiguration",
    "textDocument/hover",
    "textDocument/didOpen",
    "initialized",
    "$/cancelRequest",
    "$/progress",
    "$/setTrace",
    "window/workDoneProgress/cancel",
    "dspex/",
    "",
]

_ids = itertools.count(10**9)


@dataclass
class Case:
    data: bytes
    tracked_id: Any = None  # the id that must get exactly one answer


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)
method_name = st.sampled_from(KNOWN_METHODS) | st.text(max_size=30).filter(
    lambda m: m not in LIFECYCLE
)
message = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "bogus"])},
        optional={
            "content": st.text(max_size=60) | json_value,
            "toolCallId": st.text(max_size=8),
            "name": json_value,
        },
    ),
    json_value,
)
chat_like = st.fixed_dictionaries(
    {"messages": st.lists(message, max_size=3) | json_value},
    optional={
        "provider": st.sampled_from(["mock", "openai", "nope"]) | json_value,
        "model": st.text(max_size=10),
        "temperature": json_leaf,
        "maxTokens": json_leaf,
        "timeoutMs": st.integers(min_value=-5, max_value=5000) | json_leaf,
        "partialResultToken": st.text(max_size=5) | st.integers(),
        "sessionId": st.text(max_size=5),
        "tools": json_value,
        "inputs": st.lists(st.text(max_size=20), max_size=3) | json_value,
    },
)
params = st.one_of(json_value, chat_like, st.text(max_size=5).map(lambda s: s))


@st.composite
def tracked_request(draw: st.DrawFn) -> Case:
    msg_id: Any = next(_ids)
    if draw(st.booleans()):
        msg_id = f"r{msg_id}"
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": draw(method_name)}
    if draw(st.booleans()):
        body["params"] = draw(params)
    if draw(st.integers(0, 9)) == 0:  # a wrong jsonrpc version still gets its answer
        body["jsonrpc"] = draw(st.sampled_from(["1.0", 2, None, ""]))
    return Case(json.dumps(body).encode(), msg_id)


@st.composite
def notification(draw: st.DrawFn) -> Case:
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": draw(method_name.filter(lambda m: m != "exit")),
    }
    if draw(st.booleans()):
        body["params"] = draw(params)
    return Case(json.dumps(body).encode())


@st.composite
def bad_body(draw: st.DrawFn) -> Case:
    """Well framed, badly formed: not JSON, not UTF-8, not an object, bad member types."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        data = draw(st.binary(max_size=120))
    elif kind == 1:
        depth = draw(st.integers(10, 200_000))
        data = b"[" * depth + b"]" * depth if draw(st.booleans()) else b'{"a":' * depth
    elif kind == 2:
        data = b'{"jsonrpc":"2.0","id":"g1","method":"dspex/chat","params":{"x":"\xff\xfe"}}'
    elif kind == 3:
        data = json.dumps(draw(json_value)).encode()
    elif kind == 4:
        bad_id = draw(st.sampled_from([1.5, True, None, [1], {"a": 1}]))
        data = json.dumps({"jsonrpc": "2.0", "id": bad_id, "method": draw(method_name)}).encode()
    elif kind == 5:
        data = json.dumps(
            {"jsonrpc": "2.0", "id": "g2", "method": draw(json_leaf | json_value)}
        ).encode()
    else:
        text = draw(st.text(max_size=200))
        data = text.encode("utf-8", "surrogatepass")
    return Case(data)


@st.composite
def big_request(draw: st.DrawFn) -> Case:
    msg_id = next(_ids)
    size = draw(st.integers(10_000, 300_000))
    method = draw(st.sampled_from(["dspex/chat", "dspex/embed", "dspex/nope"]))
    payload = {"messages": [{"role": "user", "content": "x" * size}], "inputs": ["y" * size]}
    body = {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": payload}
    return Case(json.dumps(body).encode(), msg_id)


PAD = b"\r\n" * 256


@st.composite
def bad_framing(draw: st.DrawFn) -> Case:
    """A broken frame, then blank lines enough to resynchronise on the next frame."""
    body = json.dumps({"jsonrpc": "2.0", "id": "g3", "method": "dspex/providers"}).encode()
    kind = draw(st.integers(0, 5))
    if kind == 0:  # too short or too long by a little
        length = max(0, len(body) + draw(st.integers(-len(body), 300)))
        data = frame(body, length)
    elif kind == 1:
        value = draw(st.sampled_from([b"abc", b"-5", b"", b"1e3", b"0x10", b" ", b"\xff"]))
        data = b"Content-Length: " + value + b"\r\n\r\n" + body
    elif kind == 2:  # no Content-Length at all
        data = b"Content-Type: application/json\r\n\r\n" + body
    elif kind == 3:  # junk header lines
        junk = draw(st.binary(max_size=60)).replace(b"\n", b"")
        data = junk + b"\r\n" + frame(body)
    elif kind == 4:
        data = b"Content-Length: %d\r\n" % len(body) + b"X-Junk\r\n\r\n" + body
    else:
        data = draw(st.binary(max_size=80))
    return Case(data + PAD, None)


def _frame(case: Case) -> bytes:
    if case.data.endswith(PAD):
        return case.data
    return frame(case.data)


case = st.one_of(
    tracked_request(),
    tracked_request(),
    tracked_request(),
    notification(),
    bad_body(),
    bad_framing(),
)


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SyncDaemon]:
    from daemon import clean_env

    env = clean_env(Path(tmp_path_factory.mktemp("fuzz")))
    daemon = SyncDaemon(env)
    daemon.send(
        {
            "jsonrpc": "2.0",
            "id": "init",
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}},
        }
    )
    daemon.wait_answered(["init"], 60)
    daemon.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    yield daemon
    assert daemon.alive(), daemon.stderr_tail.decode(errors="replace")
    assert daemon.close() == 0


def run_batch(d: SyncDaemon, cases: list[Case]) -> None:
    d.write(b"".join(_frame(c) for c in cases))
    probe = next(_ids)
    d.send({"jsonrpc": "2.0", "id": probe, "method": "dspex/providers"})
    tracked = [c.tracked_id for c in cases if c.tracked_id is not None]
    d.wait_answered([*tracked, probe], wait_s=15)
    assert d.alive()
    for msg_id in tracked:
        assert d.answers[msg_id] == 1, (msg_id, d.answers[msg_id])
        assert "result" in d.messages[msg_id] or "error" in d.messages[msg_id]
    assert "result" in d.messages[probe]


def test_fuzzed_frames_never_kill_the_daemon(fuzz_daemon: SyncDaemon) -> None:
    sent = 0
    tracked: list[Any] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # A failing batch is printed whole; shrinking it against a live daemon takes ages.
        phases=[Phase.explicit, Phase.generate],
    )
    @given(st.lists(case, min_size=BATCH, max_size=BATCH))
    def run(cases: list[Case]) -> None:
        nonlocal sent
        run_batch(fuzz_daemon, cases)
        sent += len(cases)
        tracked.extend(c.tracked_id for c in cases if c.tracked_id is not None)

    run()
    assert sent >= EXAMPLES * BATCH
    # Late duplicates would show up here.
    assert all(fuzz_daemon.answers[i] == 1 for i in tracked)


@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(big_request(), min_size=1, max_size=3))
def test_huge_strings_are_answered(fuzz_daemon: SyncDaemon, cases: list[Case]) -> None:
    run_batch(fuzz_daemon, cases)


def test_over_long_header_line_and_body_are_survived(fuzz_daemon: SyncDaemon) -> None:
    fuzz_daemon.write(b"X-Long: " + b"a" * (3 << 20) + b"\r\n\r\n")
    fuzz_daemon.write(b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024 + 1))
    fuzz_daemon.write(b" " * (64 * 1024 * 1024 + 1))
    run_batch(
        fuzz_daemon,
        [Case(json.dumps({"jsonrpc": "2.0", "id": "h", "method": "dspex/config"}).encode(), "h")],
    )
