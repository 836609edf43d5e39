"""Provider keys kept by `dspex keys`: in the OS keyring where a usable one exists, else in
a 0600 JSON file in the user config dir. The daemon reads them as a configuration layer
below the environment.

The file is also the index: it names the providers whose key is in the keyring, so that
`list` and the daemon's start-up never import `keyring` unless a key is kept there.
Nothing here ever prints, logs or returns a key except `read_keys` (for the config layer).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

KEYRING_SERVICE = "dspex"
KEYS_FILE_ENV = "DSPEX_KEYS_FILE"
KEYRING_ENV = "DSPEX_KEYRING"  # "0": never use the keyring

Where = Literal["keyring", "file"]


class KeysError(Exception):
    """A keys file that cannot be read or written; the message never holds a key."""


def keys_file(environ: Mapping[str, str]) -> Path:
    if environ.get(KEYS_FILE_ENV):
        return Path(environ[KEYS_FILE_ENV]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("dspex")) / "keys.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"keys": {}, "keyring": []}
    except (OSError, ValueError) as exc:
        raise KeysError(f"keys file {path}: unreadable ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise KeysError(f"keys file {path}: not a JSON object")
    data.setdefault("keys", {})
    data.setdefault("keyring", [])
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    """Atomically, created 0600 (never world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def usable_keyring(environ: Mapping[str, str]) -> Any:
    """The keyring module when a real backend is available, else None."""
    if environ.get(KEYRING_ENV, "").strip().lower() in ("0", "false", "no"):
        return None
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or float(getattr(backend, "priority", 0)) <= 0:
        return None
    return keyring


def set_key(provider: str, key: str, environ: Mapping[str, str]) -> Where:
    path = keys_file(environ)
    data = _load(path)
    ring = usable_keyring(environ)
    where: Where = "file"
    if ring is not None:
        try:
            ring.set_password(KEYRING_SERVICE, provider, key)
            where = "keyring"
        except Exception:  # a locked or broken keyring: fall back to the file
            where = "file"
    if where == "keyring":
        data["keys"].pop(provider, None)
        data["keyring"] = sorted({*data["keyring"], provider})
    else:
        data["keys"][provider] = {"apiKey": key}
        data["keyring"] = [p for p in data["keyring"] if p != provider]
    _save(path, data)
    return where


def remove_key(provider: str, environ: Mapping[str, str]) -> bool:
    path = keys_file(environ)
    data = _load(path)
    found = provider in data["keys"] or provider in data["keyring"]
    if provider in data["keyring"]:
        ring = usable_keyring(environ)
        if ring is not None:
            with contextlib.suppress(Exception):  # already gone from the keyring
                ring.delete_password(KEYRING_SERVICE, provider)
    data["keys"].pop(provider, None)
    data["keyring"] = [p for p in data["keyring"] if p != provider]
    if found:
        _save(path, data)
    return found


def list_keys(environ: Mapping[str, str]) -> list[tuple[str, Where]]:
    """(provider, where) for every kept key; never the key."""
    data = _load(keys_file(environ))
    rows: list[tuple[str, Where]] = [(p, "file") for p in data["keys"]]
    rows += [(p, "keyring") for p in data["keyring"]]
    return sorted(rows)


def read_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """provider → key, for the daemon's `keys` configuration layer."""
    data = _load(keys_file(environ))
    keys = {
        p: str(block["apiKey"])
        for p, block in data["keys"].items()
        if isinstance(block, dict) and block.get("apiKey")
    }
    if data["keyring"]:
        ring = usable_keyring(environ)
        for provider in data["keyring"] if ring is not None else ():
            try:
                key = ring.get_password(KEYRING_SERVICE, provider)
            except Exception:
                key = None
            if key:
                keys[provider] = key
    return keys


def keys_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    return {"providers": {p: {"apiKey": k} for p, k in read_keys(environ).items()}}
