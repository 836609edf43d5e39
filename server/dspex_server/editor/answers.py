"""What the `dspex.chat` and `dspex.explain` commands ask, and where a long answer is kept
for the editor to open: a markdown file under the user cache dir (`<cache>/dspex/answers`,
private, the newest ANSWERS_KEPT kept)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dspex_protocol import Message

# A short answer fits an editor's message line or popup; a longer one is opened as a file.
SHORT_ANSWER_CHARS = 300
SHORT_ANSWER_LINES = 3
ANSWERS_KEPT = 50
MAX_EXPLAIN_CHARS = 20_000

EXPLAIN_SYSTEM = (
    "You explain code and text to a developer who selected it in an editor. Say what it does "
    "and why, briefly, in Markdown; point out anything surprising or wrong."
)


def is_short(text: str) -> bool:
    return len(text) <= SHORT_ANSWER_CHARS and text.count("\n") < SHORT_ANSWER_LINES


def answers_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dspex")) / "answers"


@dataclass(frozen=True)
class Selection:
    text: str
    language: str | None
    name: str | None  # the file's name, for the prompt
    truncated: bool = False


def cut(text: str, language: str | None, name: str | None) -> Selection:
    if len(text) <= MAX_EXPLAIN_CHARS:
        return Selection(text, language, name)
    return Selection(text[:MAX_EXPLAIN_CHARS], language, name, truncated=True)


def explain_messages(selection: Selection, question: str | None) -> list[Message]:
    language = selection.language or "plain text"
    where = f" from {selection.name}" if selection.name else ""
    note = " (cut: the selection was longer)" if selection.truncated else ""
    ask = question or f"Explain this {language}."
    fence = "````" if "```" in selection.text else "```"
    body = f"{ask}\n\nThe selection{where}{note}:\n{fence}{selection.language or ''}\n"
    body += f"{selection.text.rstrip(chr(10))}\n{fence}"
    return [Message(role="system", content=EXPLAIN_SYSTEM), Message(role="user", content=body)]


def write_answer(kind: str, heading: str, text: str, footer: str) -> Path:
    """The answer as a markdown file (private: it may quote the user's code)."""
    folder = answers_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{kind}-{stamp}-{uuid.uuid4().hex[:6]}.md"
    content = f"# {heading}\n\n{text.rstrip()}\n\n---\n{footer}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(content)
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.md"), key=lambda p: p.stat().st_mtime)
    for old in files[:-ANSWERS_KEPT]:
        old.unlink(missing_ok=True)
