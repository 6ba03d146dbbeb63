"""Template folders: the shipped templates load, and bad manifests fail with a precise message."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest_render import ASSETS, camera_context, copy_template, load_shipped

from bannergen.errors import TemplateError
from bannergen.render import Renderer
from bannergen.templating import load_templates
from bannergen.types import RenderSpec


def test_shipped_templates_load_sorted_with_their_rules():
    templates = load_shipped()
    assert list(templates) == [
        "brand-showcase",
        "carousel",
        "category-launch",
        "cross-sell",
        "price-drop",
        "product-spotlight",
    ]
    launch = templates["category-launch"]
    assert launch.priority == pytest.approx(0.05)
    assert launch.categories == ("相机", "手机", "笔记本电脑", "平板电脑", "耳机", "智能手表")
    assert templates["product-spotlight"].categories is None
    drop = templates["price-drop"]
    assert (drop.requires_discount, drop.min_discount_pct) == (True, 5)
    for template in templates.values():
        assert template.base_sizes == ((1200, 400), (750, 300), (300, 250))
        assert template.sizes == ((1200, 400), (750, 300), (300, 250), (2400, 800), (1500, 600), (600, 500))
        assert template.size_label((1500, 600)) == "750x300@2x" and template.size_label((750, 300)) == "750x300"
    assert (templates["cross-sell"].requires_antecedent, templates["carousel"].requires_items) == (True, 3)


def test_headlines_render_in_the_sandbox():
    templates = load_shipped()
    ctx = camera_context(None)
    # 新品 only for an item the catalog marks new; 优惠 only from the campaign rules' sale discount
    assert templates["category-launch"].headline(camera_context(None, is_new=True)) == "相机新品上市"
    assert templates["category-launch"].headline(ctx) == "相机精选推荐"
    assert templates["price-drop"].headline(camera_context(None, category="手机", is_sale=True)) == "手机优惠活动"
    assert templates["price-drop"].headline(camera_context(None, category="手机", discount_pct=9)) == "手机好价推荐"
    assert templates["product-spotlight"].headline(ctx) == "佳能 精选好物"


def test_suits_is_a_vectorized_mask_over_the_catalog():
    catalog = pd.DataFrame({
        "item_id": ["1", "2", "3", "4"],
        "category": ["相机", "图书", "手机", "手机"],
        "price": [4999.0, 30.0, 960.0, 1000.0],
        "list_price": [5999.0, np.nan, 1000.0, np.nan],
    })
    templates = load_shipped()
    assert templates["category-launch"].suits(catalog).tolist() == [True, False, True, True]
    # 3: 4% off is under the 5% minimum; 2 and 4: not discounted
    assert templates["price-drop"].suits(catalog).tolist() == [True, False, False, False]
    assert templates["product-spotlight"].suits(catalog).dtype == bool
    # cross-sell and carousel need context a catalog row cannot give: plain pairing never picks them
    assert templates["cross-sell"].suits(catalog).tolist() == [False] * 4
    assert templates["carousel"].suits(catalog).tolist() == [False] * 4
    assert templates["carousel"].catalog_mask(catalog).tolist() == [True] * 4


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


BAD_MANIFESTS = [
    (
        "template.toml",
        "priority = 0.0",
        "priorty = 0.0",
        r"template\.toml: unknown key 'priorty' \(hint: did you mean 'priority'\?\)",
    ),
    (
        "template.toml",
        'headline = "{{ brand }} 精选好物"',
        "headline = \"{{ ''.__class__ }}\"",
        r"template\.toml: headline: sandbox refused",
    ),
    (
        "template.toml",
        'headline = "{{ brand }} 精选好物"',
        'headline = "{{ colour }}"',
        r"template\.toml: headline: unknown name 'colour' \(hint: did you mean 'colours'\?\)",
    ),
    (
        "template.toml",
        'sizes = ["1200x400", "750x300", "300x250"]',
        'sizes = ["1200x400", "750x300", "300x250", "320x50"]',
        r'layout\.toml: sizes\."320x50": missing',
    ),
    (
        "template.toml",
        'sizes = ["1200x400", "750x300", "300x250"]',
        'sizes = ["1200by400"]',
        r"size must look like '1200x400'; got '1200by400'",
    ),
    (
        "template.toml",
        "scales = [1, 2]",
        "scales = [2]",
        r"scales must list pixel densities from 1, 2, 3 and include 1; got \[2\]",
    ),
    (
        "template.toml",
        "requires_antecedent = false",
        "requires_antecedent = false\nrequires_items = 4",
        r"requires_items must be within 1\.\.3; got 4",
    ),
    ("template.toml", 'categories = "*"', "categories = []", r'\[suits\]: categories must be "\*" or a non-empty list'),
    ("template.toml", 'slots = ["brand"', 'slots = ["brandname"', "slots: unknown slot 'brandname'"),
    (
        "layout.toml",
        'kind = "ellipse"\nname = "halo"\nbox = [740, 0, 420, 400]',
        'kind = "ellipse"\nname = "halo"\nbox = [740, 0, 420, 400]\nfil = "#fff"',
        r"unknown key 'fil' \(hint: did you mean 'fill'\?\)",
    ),
    (
        "layout.toml",
        "box = [780, 30, 340, 340]",
        "box = [980, 30, 340, 340]",
        r"box \[980, 30, 340, 340\] does not lie inside the 1200x400 banner",
    ),
    ("layout.toml", 'fill = "accent"', 'fill = "acent"', r"unknown colour 'acent' \(hint: did you mean 'accent'\?\)"),
    (
        "layout.toml",
        'kind = "gradient"\nfrom = "paper"',
        'kind = "image"\nimage = "../../etc/passwd"\nfrom = "paper"',
        r"asset path '\.\./\.\./etc/passwd' escapes assets/",
    ),
    ("layout.toml", 'text = "{{ title }}"', 'text = "{{ title.__class__.__mro__ }}"', r"sandbox refused"),
]


@pytest.mark.parametrize(("file", "old", "new", "message"), BAD_MANIFESTS, ids=[m[3][:40] for m in BAD_MANIFESTS])
def test_bad_template_is_rejected_with_the_file_and_the_problem(tmp_path, file, old, new, message):
    folder = copy_template(tmp_path)
    _edit(folder / file, old, new)
    with pytest.raises(TemplateError, match=message):
        load_templates(folder.parent, assets_dir=ASSETS)


def test_html_cannot_include_files_outside_its_folder(tmp_path):
    folder = copy_template(tmp_path)
    _edit(folder / "banner.html.j2", "<title>", '{% include "../price-drop/banner.html.j2" %}<title>')
    with pytest.raises(
        TemplateError,
        match=r"banner\.html\.j2: line 10: include '\.\./price-drop/banner\.html\.j2' escapes the template folder",
    ):
        load_templates(folder.parent, assets_dir=ASSETS)


def test_a_bad_template_can_be_skipped_so_the_others_keep_working(tmp_path):
    folder = copy_template(tmp_path)
    copy_template(tmp_path, "price-drop")
    _edit(folder / "template.toml", "priority = 0.0", "priorty = 0.0")
    errors: list[TemplateError] = []
    templates = load_templates(folder.parent, assets_dir=ASSETS, on_error=errors.append)
    assert list(templates) == ["price-drop"]
    assert "unknown key 'priorty'" in str(errors[0])
    Renderer(templates, ASSETS, formats=("png",)).render(RenderSpec("price-drop", (300, 250), camera_context(None)))


def test_asset_symlink_escaping_assets_is_rejected(tmp_path):
    from bannergen.templating.checks import resolve_asset

    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "evil.png").symlink_to("/etc/passwd")
    with pytest.raises(TemplateError, match="escapes assets/"):
        resolve_asset(assets, "evil.png", "layout.toml")
    with pytest.raises(TemplateError, match=re.escape("asset path '/etc/passwd' escapes assets/")):
        resolve_asset(assets, "/etc/passwd", "layout.toml")


def test_template_id_must_match_its_folder(tmp_path):
    folder = copy_template(tmp_path)
    _edit(folder / "template.toml", 'id = "product-spotlight"', 'id = "spotlight"')
    with pytest.raises(TemplateError, match="id 'spotlight' differs from the folder name 'product-spotlight'"):
        load_templates(folder.parent)
