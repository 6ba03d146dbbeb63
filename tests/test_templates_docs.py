"""The annotated example in docs/templates.md is a real, loadable template."""

from __future__ import annotations

import re
import shutil

from conftest_render import ASSETS, ROOT, TEMPLATES

from bannergen.templating import load_templates
from bannergen.types import BannerContext


def test_the_documented_example_loads_and_renders_its_headline(tmp_path):
    doc = (ROOT / "docs" / "templates.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    manifest, layout = blocks[0], blocks[1]
    folder = tmp_path / "category-launch"
    folder.mkdir()
    # the doc shows only the 1200x400 layout section, so the example manifest is cut to that size
    (folder / "template.toml").write_text(
        manifest.replace('sizes = ["1200x400", "750x300", "300x250"]', 'sizes = ["1200x400"]'), encoding="utf-8"
    )
    (folder / "layout.toml").write_text(layout, encoding="utf-8")
    shutil.copy(TEMPLATES / "category-launch" / "banner.html.j2", folder)
    template = load_templates(tmp_path, assets_dir=ASSETS)["category-launch"]
    ctx = BannerContext(item_id="1", title="t", brand="b", category="相机", price="¥1", price_value=1.0, is_new=True)
    assert template.headline(ctx) == "相机新品上市"
    assert [e.name for e in template.layout((1200, 400)).elements][-1] == "cta"


def test_every_banner_context_name_is_documented():
    doc = (ROOT / "docs" / "templates.md").read_text(encoding="utf-8")
    names = BannerContext(item_id="", title="", brand="", category="", price="", price_value=0.0).as_template_vars()
    assert [n for n in names if f"| `{n}` |" not in doc] == []


def test_the_allowed_filters_are_the_documented_ones():
    """docs/templates.md lists, on its "Allowed filters:" line, exactly the filters the sandbox has."""
    from bannergen.templating.filters import ALLOWED_FILTERS

    doc = (ROOT / "docs" / "templates.md").read_text(encoding="utf-8")
    line = next(line for line in doc.splitlines() if line.startswith("Allowed filters:"))
    assert sorted(re.findall(r"`([a-z_]+)`", line)) == sorted(ALLOWED_FILTERS)
