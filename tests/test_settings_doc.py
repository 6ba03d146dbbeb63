"""docs/settings.md is generated from the settings tables and must match them."""

from __future__ import annotations

from pathlib import Path

from bannergen.settings_doc import REGENERATE, markdown, settings_files

DOC = Path(__file__).resolve().parents[1] / "docs/settings.md"


def test_docs_settings_md_is_what_the_tables_generate():
    assert DOC.read_text(encoding="utf-8") == markdown(), (
        f"docs/settings.md differs from the settings tables; regenerate it from the repository root: {REGENERATE}"
    )


def test_the_reference_lists_every_file_and_key():
    text = markdown()
    for spec in settings_files():
        assert f"## {spec.name}\n" in text
        for row in spec.rows:
            assert f"| `{row.name}` |" in text
