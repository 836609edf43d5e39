"""docs/providers.md is generated from the provider table and must match it."""

from __future__ import annotations

from pathlib import Path

from dspex_server.providers.matrix import WIRE_FORMATS, generate, main
from dspex_server.providers.table import PROVIDERS

DOC = Path(__file__).resolve().parent.parent / "docs" / "providers.md"
NOTES = DOC.parent / "providers"


def test_checked_in_matrix_matches_the_table() -> None:
    assert DOC.read_text(encoding="utf-8") == generate(NOTES), (
        "docs/providers.md is stale: python -m dspex_server.providers.matrix "
        "--write docs/providers.md"
    )


def test_every_provider_and_wire_format_is_described() -> None:
    text = generate()
    for spec in PROVIDERS:
        assert f"| `{spec.name}` |" in text
        assert spec.wire_format in WIRE_FORMATS


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "providers.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
