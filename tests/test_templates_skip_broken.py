"""A render skips a broken template, whatever file is broken, with a one-line note; it fails
(exit 2) only when no template is left."""

from __future__ import annotations

import logging
import shutil

import pytest
from conftest_render import ASSETS, TEMPLATES, edit_file

from bannergen.errors import TemplateError
from bannergen.templating.manifest import load_usable_templates

SHIPPED = ("price-drop", "product-spotlight")

# (file, old, new): each breaks product-spotlight in another file
BREAKS = [
    ("template.toml", "priority = 0.0", "priority = ]"),
    ("template.toml", 'id = "product-spotlight"', 'id = "../product-spotlight"'),
    ("template.toml", "[fonts]", '[fonts]\nfallbacks = ["../../../etc/passwd"]'),
    ("template.toml", "[fonts]", '[fonts]\nfallbacks = ["NoSuchFont.otf"]'),
    ("template.toml", 'sizes = ["1200x400",', 'sizes = ["40000x40000", "1200x400",'),
    ("layout.toml", 'kind = "text"', 'kind = "txet"'),
    ("banner.html.j2", "<body>", "<body>{{ prcie }}"),
    ("banner.html.j2", "<body>", "<body>{% include 'banner.html.j2' %}"),
]


@pytest.fixture
def templates_dir(tmp_path):
    for tid in SHIPPED:
        shutil.copytree(TEMPLATES / tid, tmp_path / "templates" / tid)
    return tmp_path / "templates"


@pytest.mark.parametrize(("file", "old", "new"), BREAKS, ids=[f"{b[0]}:{b[2][:24]}" for b in BREAKS])
def test_a_broken_template_is_skipped_with_one_line(templates_dir, caplog, file, old, new):
    edit_file(templates_dir / "product-spotlight" / file, old, new)
    with caplog.at_level(logging.WARNING, logger="bannergen.templating.manifest"):
        templates = load_usable_templates(templates_dir, assets_dir=ASSETS)
    assert list(templates) == ["price-drop"]
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and notes[0].startswith("skipped template product-spotlight: "), notes
    assert "\n" not in notes[0]


def test_no_template_left_is_exit_2(templates_dir):
    for tid in SHIPPED:
        edit_file(templates_dir / tid / "banner.html.j2", "<body>", "<body>{{ prcie }}")
    with pytest.raises(TemplateError, match="no template is left: all 2 are broken") as info:
        load_usable_templates(templates_dir, assets_dir=ASSETS)
    assert info.value.exit_code == 2
