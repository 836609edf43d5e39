"""The Emacs recipe (client_ext/emacs/dspex.el) driven for real: `emacs --batch` starts the
daemon through eglot and runs the standard `dspex.chat` / `dspex.explain` commands
(`workspace/executeCommand`) on the mock provider. Emacs and eglot come from Debian
(`apt-get install emacs-nox elpa-eglot`; .ci/run installs them)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EMACS = shutil.which("emacs")

pytestmark = pytest.mark.skipif(
    EMACS is None, reason="emacs not installed (apt-get install emacs-nox elpa-eglot)"
)

SCRIPT = """
(setq dspex-server-command (list {python} "-m" "dspex_server"))
(setq dspex-initialization-options
      '(:defaultProvider "mock" :providers (:mock (:mode "echo"))))
(defun dspex-test-report (value)
  (with-temp-file {out} (insert (json-encode value))))
(condition-case err
    (progn
      (unless (locate-library "eglot")
        (dspex-test-report '(:skip "eglot is not installed (elpa-eglot, or Emacs 29+)"))
        (kill-emacs 0))
      (add-to-list 'load-path {recipe})
      (require 'dspex)
      (find-file {notes})
      (apply #'eglot (eglot--guess-contact))
      (with-timeout (60 (error "eglot did not connect"))
        (while (not (eglot-current-server)) (accept-process-output nil 0.1)))
      (let* ((chat (dspex-chat "hello from emacs"))
             (explain (dspex-explain (point-min) (line-end-position 1)))
             (shown (with-current-buffer "*dspex*" (buffer-string))))
        (dspex-test-report (list :chat chat :explain explain :shown shown
                                 :server (symbol-name (eieio-object-class
                                                       (eglot-current-server)))))))
  (error (dspex-test-report (list :error (format "%S" err)))))
(kill-emacs 0)
"""


def lisp_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Emacs Lisp string here


async def run_emacs(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    out = tmp_path / "report.json"
    notes = tmp_path / "notes.txt"
    notes.write_text("Monads compose effects.\nSecond line.\n", encoding="utf-8")
    script = tmp_path / "drive.el"
    script.write_text(
        SCRIPT.format(
            python=lisp_str(sys.executable),
            out=lisp_str(str(out)),
            recipe=lisp_str(str(ROOT / "client_ext" / "emacs")),
            notes=lisp_str(str(notes)),
        ),
        encoding="utf-8",
    )
    assert EMACS is not None
    process = await asyncio.create_subprocess_exec(
        EMACS,
        "--batch",
        "-l",
        str(script),
        env={**env, "HOME": str(tmp_path)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=str(tmp_path),
    )
    log, _ = await asyncio.wait_for(process.communicate(), 120)
    assert out.exists(), f"emacs wrote no report: {log.decode(errors='replace')[-2000:]}"
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if "skip" in report:
        pytest.skip(report["skip"])
    assert "error" not in report, report
    return report


async def test_eglot_runs_the_chat_and_explain_commands(
    tmp_path: Path, env: dict[str, str]
) -> None:
    report = await run_emacs(tmp_path, env)
    assert report["server"] == "dspex-eglot-server"
    chat = report["chat"]
    assert chat["text"] == "hello from emacs"  # the echo mock
    assert (chat["shown"], chat["provider"]) == ("none", "mock")
    explain = report["explain"]["text"]
    assert explain.startswith("Explain this text.")  # text-mode's language
    assert "```text\nMonads compose effects.\n```" in explain
    assert "Second line" not in explain
    shown = report["shown"]
    assert shown.startswith("> hello from emacs\nhello from emacs\n> explain (text)\n")
