"""Logging to stderr only, with every known secret scrubbed from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable

REDACTED = "<redacted>"


class SecretFilter(logging.Filter):
    """Replaces any configured secret in a record's final text. Defence in depth: no code
    path is meant to log a secret, but a provider may echo one in an error body."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [s for s in self._secrets() if s and len(s) >= 4]
        if not secrets:
            return True
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        record.msg, record.args = text, None
        return True


def setup_logging(level: str, secrets: Callable[[], Iterable[str]]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs whole message bodies (initializationOptions carry API keys) and request
    # params with tracebacks; the daemon reports its own errors instead.
    for name in ("pygls", "lsprotocol", "httpx", "httpcore", "aiohttp", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
