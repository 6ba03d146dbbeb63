"""A render skips a broken template, whatever file is broken, with a one-line note; it fails
(exit 2) only when no template is left."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

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


def test_render_skips_a_broken_template_and_exits_0(tmp_path, caplog):
    """The whole command: one template.toml broken, render still renders with the others and says
    which it skipped in one line; every template broken is exit 2."""
    from typer.testing import CliRunner

    from bannergen.cli.main import app

    root = Path(__file__).resolve().parents[1]
    for name in ("templates", "scoring"):
        shutil.copytree(root / name, tmp_path / name)
    (tmp_path / "assets").symlink_to(root / "assets")
    (tmp_path / "bannergen.toml").write_text(
        f'[data]\ncatalog = "{root}/examples/shop/catalog.csv"\nevents = "{root}/examples/shop/events.parquet"\n'
        '[render]\nsizes = ["300x250"]\n[privacy]\nsecret = "test"\n', encoding="utf-8")
    edit_file(tmp_path / "templates" / "price-drop" / "template.toml", "priority = 0.1", "priority = ]")
    runner = CliRunner()
    with caplog.at_level(logging.WARNING, logger="bannergen.templating.manifest"):
        result = runner.invoke(app, ["--project", str(tmp_path), "render", "--segment", "camera-fans", "--limit", "2",
                                     "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    notes = [r.getMessage() for r in caplog.records if "skipped template" in r.getMessage()]
    assert len(notes) == 1 and notes[0].startswith("skipped template price-drop: ") and "template.toml" in notes[0]
    for folder in (tmp_path / "templates").iterdir():
        edit_file(folder / "banner.html.j2", "<body>", "<body>{{ prcie }}")
    result = runner.invoke(app, ["--project", str(tmp_path), "render", "--segment", "camera-fans", "--limit", "2",
                                 "--out", str(tmp_path / "out2")])
    assert result.exit_code == 2 and "no template is left" in result.output, result.output
