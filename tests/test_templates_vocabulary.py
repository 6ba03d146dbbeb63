"""The design vocabulary: dashed and dotted outlines, numbers in the banner context, claims that
are true (新品 only for new items, 优惠 only from the sale discount), and lint's small_text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest_render import ASSETS, camera_context, copy_template, edit_file
from PIL import Image

from bannergen.claims import mark_claims
from bannergen.contexts import banner_context
from bannergen.data.catalog import load_catalog
from bannergen.render import Renderer
from bannergen.render.layers import draw_shape
from bannergen.render.lint import Linter
from bannergen.scorers.settings import CampaignRules
from bannergen.templating import load_templates
from bannergen.types import RenderSpec

RED = (255, 0, 0, 255)


def _top_edge(style: str) -> np.ndarray:
    image = Image.new("RGB", (200, 60), "white")
    draw_shape(image, "rect", (0, 0, 200, 60), None, 0, RED, 4, style)
    row = np.asarray(image)[1, 20:180]  # inside the 4 px outline, away from the corners
    return (row[:, 1] < 128).astype(int)  # 1 where red is drawn


@pytest.mark.parametrize(("style", "runs"), [("solid", 1), ("dashed", 8), ("dotted", 20)])
def test_outline_styles_draw_dashes_and_dots(style, runs):
    edge = _top_edge(style)
    drawn = int(np.sum(np.diff(np.concatenate([[0], edge])) == 1))  # separate red runs along the edge
    assert abs(drawn - runs) <= 1, (style, drawn)
    if style == "dashed":  # dashes of 3 widths (12 px) and gaps of 2 (8 px) over 160 px: 8, 60% drawn
        assert 0.5 < edge.mean() < 0.7


def test_a_dashed_outline_in_a_layout_reaches_image_and_html(tmp_path):
    folder = copy_template(tmp_path)
    # shown only when discounted, so it is drawn per banner (and by the HTML), not baked into the background
    edit_file(folder / "layout.toml", 'radius = 20\n', 'radius = 20\noutline = "#FF0000"\noutline_width = 3\n'
              'outline_style = "dotted"\nwhen = "has_discount"\n')
    template = load_templates(folder.parent, assets_dir=ASSETS)["product-spotlight"]
    size = next(s for s in template.base_sizes if any(e.outline_style == "dotted" for e in template.layout(s).elements))
    html = Renderer({template.id: template}, ASSETS, formats=("html",)).render(
        RenderSpec(template.id, size, camera_context(None))).files["html"].decode()
    assert "dotted #ff0000" in html


def test_an_unknown_outline_style_is_refused(tmp_path):
    folder = copy_template(tmp_path)
    edit_file(folder / "layout.toml", 'radius = 20\n', 'radius = 20\noutline = "#FF0000"\noutline_style = "wavy"\n')
    with pytest.raises(Exception, match=r"outline_style must be one of \['solid', 'dashed', 'dotted'\]; got 'wavy'"):
        load_templates(folder.parent, assets_dir=ASSETS)


def test_the_catalog_reads_launched_and_claims_follow_it(tmp_path):
    (tmp_path / "catalog.csv").write_text(
        "item_id,title,brand,category,price,list_price,image,stock,launched\n"
        "1,new camera,b,相机,100,,,1,2026-11-01\n"
        "2,old camera,b,相机,100,,,1,2025-01-01\n"
        "3,undated,b,相机,91,100,,1,\n"
        "4,bad date,b,相机,100,,,1,soon\n"
        "5,on sale,b,相机,90,100,,1,\n", encoding="utf-8")
    loaded = load_catalog(tmp_path / "catalog.csv")
    assert [str(r) for r in loaded.rejects] == [
        f"{tmp_path / 'catalog.csv'}:5:launched: not a date; got 'soon'; expected empty or a date such as 2026-11-01"]
    marked = mark_claims(loaded.frame, CampaignRules(), pd.Timestamp("2026-11-28T23:59:59Z"))
    assert marked["is_new"].tolist() == [True, False, False, False]
    assert marked["is_sale"].tolist() == [False, False, False, True]  # 9% off is no sale, 10% is
    contexts = [banner_context(row, tmp_path) for row in marked.to_dict("records")]
    assert [c.is_new for c in contexts] == [True, False, False, False]
    assert (contexts[3].list_price_value, contexts[3].saving_value, contexts[3].discount_pct) == (100.0, 10.0, 10)
    assert (contexts[0].list_price_value, contexts[0].saving_value) == (0.0, 0.0)


def test_lint_flags_text_below_the_minimum_at_1x(tmp_path):
    folder = copy_template(tmp_path)
    layout = folder / "layout.toml"
    layout.write_text(layout.read_text(encoding="utf-8").replace("min_size = 12", "min_size = 8"), encoding="utf-8")
    template = load_templates(folder.parent, assets_dir=ASSETS)["product-spotlight"]
    long_title = camera_context(None, title="佳能 EOS R50 微单相机 " * 8)
    issues = [i for size in template.sizes for i in Linter(ASSETS).lint(template, long_title, size)
              if i.kind == "small_text"]
    assert issues and all("below the minimum of 12px" in i.detail for i in issues)
    assert {i.size for i in issues} >= {"300x250", "300x250@2x"}  # a 2x banner's text counts at half
    assert not [i for i in Linter(ASSETS, min_text_px=8).lint(template, long_title, (300, 250))
                if i.kind == "small_text"]
