"""`bannergen templates ...` through typer: output, files and exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from conftest_render import ROOT, SHIPPED
from typer.testing import CliRunner

from bannergen.cli import main as cli_main
from bannergen.cli.common import BannergenGroup
from bannergen.cli.templates import register


def _app() -> typer.Typer:
    """The global options of `bannergen` plus the templates group, as bannergen.cli.main registers it."""
    app = typer.Typer(cls=BannergenGroup)  # the group that turns a BannergenError into its exit code
    app.callback()(cli_main._global)
    register(app)
    return app


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the repository's project (templates, assets, config) with the example catalog."""
    for name in ("templates", "assets", "scoring"):
        shutil.copytree(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "bannergen.toml", tmp_path)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "shop").symlink_to(ROOT / "examples" / "shop")
    return tmp_path


def run(project: Path, *args: str):
    return CliRunner().invoke(_app(), ["--project", str(project), "templates", *args])


def test_new_copies_a_template_with_its_id_and_refuses_to_overwrite(project):
    res = run(project, "new", "double-eleven", "--from", "price-drop")
    assert res.exit_code == 0, res.output
    manifest = (project / "templates" / "double-eleven" / "template.toml").read_text(encoding="utf-8")
    assert 'id = "double-eleven"' in manifest and 'version = "1"' in manifest
    assert run(project, "validate", "double-eleven").exit_code == 0
    again = run(project, "new", "double-eleven")
    assert again.exit_code == 2 and "already exists; not overwriting it" in again.output
    bad = run(project, "new", "Double_11")
    assert bad.exit_code == 2 and "use lowercase letters, digits and '-'" in bad.output


def test_validate_reports_file_line_and_exits_2(project):
    assert run(project, "validate").output.strip().endswith("6 templates: all valid")
    layout = project / "templates" / "price-drop" / "layout.toml"
    layout.write_text(layout.read_text(encoding="utf-8").replace('fill = "card"', 'fil = "card"', 1), encoding="utf-8")
    res = run(project, "validate")
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert lines[0].endswith("templates/price-drop/layout.toml:17: sizes.\"1200x400\".elements[1]: unknown key 'fil' "
                             "(hint: did you mean 'fill'?)"), lines[0]
    assert lines[-1] == "6 templates: 5 valid, 1 with 1 findings"
    data = json.loads(run(project, "validate", "--json").output)
    assert data["price-drop"][0]["line"] == 17 and data["product-spotlight"] == []


def test_list_shows_every_template_and_what_it_needs(project):
    res = run(project, "list")
    assert res.exit_code == 0
    ids = [line.split()[0] for line in res.output.splitlines() if line and not line.startswith(" ")]
    assert ids == list(SHIPPED)
    assert "[needs antecedent]" in res.output and "[needs 3 items]" in res.output


def test_lint_sample_json_and_fail_on(project):
    res = run(project, "lint", "--sample", "3", "--template", "price-drop", "--size", "300x250", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["summary"][0]["template"] == "price-drop" and report["summary"][0]["banners"] == 3
    res = run(project, "lint", "--fail-on", "colour")
    assert res.exit_code == 2 and "--fail-on: unknown kind 'colour'" in res.output


def test_preview_writes_a_contact_sheet(project, tmp_path):
    res = run(project, "preview", "carousel", "--samples", "2", "--out", str(tmp_path / "preview"))
    assert res.exit_code == 0, res.output
    folder = tmp_path / "preview" / "carousel"
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert html.count("<iframe") == 2 * 3 and html.count("<img") == 2 * 6
    assert (folder / "sheet.png").stat().st_size > 0
    assert "carousel: 12 banners (2 items x 6 sizes)" in res.output


def test_unknown_template_is_one_line_and_exit_2(project):
    res = run(project, "preview", "nope")
    assert res.exit_code == 2
    assert res.output.startswith("error: unknown template 'nope' (hint: templates: ['brand-showcase',")
