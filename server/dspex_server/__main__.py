"""`python -m dspex_server` / `dspex-server`: the daemon on stdio."""

from __future__ import annotations


def main() -> None:
    from .app import run

    raise SystemExit(run())


if __name__ == "__main__":
    main()
