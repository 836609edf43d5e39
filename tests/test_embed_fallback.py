"""`dspex/embed` without a provider when wordllama cannot be imported: the first configured
provider that offers embeddings answers, or the mock, and the result says so."""

from __future__ import annotations

from pathlib import Path

from daemon import clean_env, start_daemon
from fakes.openai_server import FakeOpenAI

HIDE_WORDLLAMA = """\
import sys


class _HideWordllama:
    def find_spec(self, name, path=None, target=None):
        if name == "wordllama" or name.startswith("wordllama."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _HideWordllama())
"""


def hiding_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(HIDE_WORDLLAMA)
    return clean_env(tmp_path, PYTHONPATH=str(site), **extra)


async def test_without_wordllama_embed_falls_back_with_a_notice(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        env = hiding_env(tmp_path, OPENAI_API_KEY=fake.api_key or "", OPENAI_BASE_URL=fake.api_base)
        async with start_daemon(env) as d:
            providers = await d.request("dspex/providers")
            embedded = await d.request("dspex/embed", {"inputs": ["a", "b"]})
    local = next(p for p in providers["providers"] if p["name"] == "local")
    assert local["configured"] is False
    assert embedded["provider"] == "openai"
    assert embedded["model"] == "text-embedding-3-small"
    assert any("wordllama" in n for n in embedded["notices"])
