"""Saved collections come back after a restart with the same top-k; `dspex embed-multi` and
`dspex similar` work across CLI invocations (each its own daemon)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_runner import run_cli
from daemon import Daemon, start_daemon
from pygls.exceptions import JsonRpcException

TEXTS = [
    "the cat sat on the mat",
    "dogs chase cats",
    "stock markets fell sharply",
    "a recipe for lemon cake",
    "the kitten slept on the rug",
    "bond yields rose again",
]
QUERIES = ["a cat sleeping on a mat", "financial markets news"]


async def top_k(d: Daemon, name: str) -> list[list[tuple[str, float]]]:
    result: dict[str, Any] = await d.request(
        "dspex/index/query", {"name": name, "texts": QUERIES, "k": 4, "provider": "mock"}
    )
    return [[(h["id"], h["score"]) for h in row] for row in result["results"]]


async def test_a_saved_collection_returns_the_same_top_k_after_restart(
    env: dict[str, str],
) -> None:
    async with start_daemon(env) as d:
        ids = [f"doc-{i}" for i in range(len(TEXTS))]
        await d.request(
            "dspex/index/add",
            {
                "name": "docs",
                "texts": TEXTS,
                "ids": ids,
                "metadata": [{"n": i} for i in range(6)],
                "provider": "mock",  # the embedder these assertions are about
            },
        )
        await d.request(
            "dspex/index/add", {"name": "scratch", "texts": ["not saved"], "provider": "mock"}
        )
        saved = await d.request("dspex/index/save", {"name": "docs"})
        assert saved["size"] == 6 and saved["dimensions"] > 0
        before = await top_k(d, "docs")
        with pytest.raises(JsonRpcException) as info:
            await d.request("dspex/index/save", {"name": "nosuch"})
        assert info.value.code == -32602  # type: ignore[attr-defined]

    async with start_daemon(env) as d:
        listed = (await d.request("dspex/index/list", {}))["indexes"]
        assert [(i["name"], i["size"]) for i in listed] == [("docs", 6)]
        assert await top_k(d, "docs") == before
        hit = (
            await d.request(
                "dspex/index/query",
                {"name": "docs", "texts": [TEXTS[3]], "k": 1, "provider": "mock"},
            )
        )["results"][0][0]
        assert hit["id"] == "doc-3"
        assert hit["metadata"] == {"text": TEXTS[3], "n": 3}
        # Adding after a reload keeps the saved rows; saving again replaces the copy.
        await d.request(
            "dspex/index/add",
            {"name": "docs", "texts": ["new"], "ids": ["doc-6"], "provider": "mock"},
        )
        assert (await d.request("dspex/index/save", {"name": "docs"}))["size"] == 7
        forgotten = await d.request("dspex/index/forget", {"name": "docs"})
        assert forgotten == {"name": "docs", "forgotten": True}

    async with start_daemon(env) as d:
        assert (await d.request("dspex/index/list", {}))["indexes"] == []


async def test_cli_embed_multi_then_similar(env: dict[str, str]) -> None:
    lines = "".join(
        json.dumps({"id": f"t{i}", "text": t, "metadata": {"source": "test"}}) + "\n"
        for i, t in enumerate(TEXTS)
    )
    code, out, err = await run_cli(
        env, "embed-multi", "notes", "--jsonl", "-p", "mock", stdin=lines
    )
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["name"], summary["size"], summary["added"]) == ("notes", 6, 6)
    code, out, err = await run_cli(env, "similar", "notes", TEXTS[2], "-k", "2", "-p", "mock")
    assert code == 0, err
    first = out.splitlines()[0].split("\t")
    assert first[1:] == ["t2", TEXTS[2]] and float(first[0]) > 0.999
    assert len(out.splitlines()) == 2
    stdin = "\n".join([*TEXTS[:3], "", *TEXTS[3:]]) + "\n"  # blank lines are skipped
    code, out, err = await run_cli(env, "embed-multi", "plain", "-p", "mock", stdin=stdin)
    assert code == 0, err
    assert json.loads(out)["size"] == 6
    code, out, _ = await run_cli(
        env, "similar", "plain", TEXTS[4], "--json", "-k", "1", "-p", "mock"
    )
    assert json.loads(out)[0]["metadata"] == {"text": TEXTS[4]}
