"""`templates lint`: each kind of problem is found where it is, and the whole example shop is
linted well within a minute."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest_render import ASSETS, ROOT, camera_context, copy_template, load_shipped
from PIL import Image

from bannergen.render.lint import Linter, lint_catalog
from bannergen.templating import load_templates


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _kinds(issues, size="1200x400"):
    return {(i.element, i.kind) for i in issues if i.size == size}


def test_a_clean_banner_has_no_issues():
    template = load_shipped()["product-spotlight"]
    assert Linter(ASSETS).lint(template, camera_context(None, title="佳能 EOS R50"), (1200, 400)) == []


def test_each_kind_is_reported(tmp_path):
    folder = copy_template(tmp_path)
    layout = folder / "layout.toml"
    _edit(layout, 'colour = "accent"', 'colour = "#FFF0E8"')  # headline: pale on the pale background
    _edit(layout, "box = [64, 240, 420, 78]", "box = [64, 240, 420, 20]")  # price: lower than one line
    template = load_templates(folder.parent, assets_dir=ASSETS)["product-spotlight"]
    small = tmp_path / "small.png"
    Image.new("RGB", (100, 100), "gray").save(small)
    long_title = "佳能 EOS R50 微单相机 𠀀 " + "超长标题 " * 30
    issues = Linter(ASSETS).lint(template, camera_context(small, title=long_title), (1200, 400))
    kinds = _kinds(issues)
    assert ("headline", "contrast") in kinds
    assert ("price", "no_fit") in kinds
    assert ("title", "ellipsis") in kinds
    assert ("title", "missing_glyph") in kinds
    assert ("product", "upscaled") in kinds
    detail = {i.kind: i.detail for i in issues}
    assert detail["upscaled"] == "100x100 image in a 340x340 box (x3.40)"
    assert detail["missing_glyph"] == "no font has '𠀀' (U+20000)"
    assert detail["contrast"].startswith("1.0") and detail["contrast"].endswith("needs 3:1 (28px bold)")
    # growing titles: fine, then only at min_size, then cut with an ellipsis; never the other order
    linter, seen = Linter(ASSETS), []
    for n in range(1, 60):
        kinds = {
            k
            for e, k in _kinds(linter.lint(template, camera_context(None, title="相机" * n), (1200, 400)))
            if e == "title"
        }
        state = "ellipsis" if "ellipsis" in kinds else "min_size" if "min_size" in kinds else "fine"
        if not seen or seen[-1] != state:
            seen.append(state)
    assert seen == ["fine", "min_size", "ellipsis"]


@pytest.mark.slow
def test_the_example_shop_lints_every_template_item_and_size_within_a_minute():
    from bannergen.data import load_catalog

    catalog = load_catalog(ROOT / "examples" / "shop" / "catalog.csv").frame
    report = lint_catalog(load_shipped(), ASSETS, catalog, ROOT / "examples" / "shop")
    rows = {r["template"]: r for r in report.summary()}
    assert rows["product-spotlight"]["items"] == len(catalog) == 320
    assert rows["carousel"]["banners"] == 320 * 6
    assert (
        sum(r["contrast"] + r["no_fit"] + r["missing_glyph"] for r in rows.values()) == 0
    )  # shipped templates are clean
    assert report.seconds < 60


def test_lint_sample_is_seeded():
    catalog = pd.read_csv(ROOT / "examples" / "shop" / "catalog.csv", dtype={"item_id": str})
    a = lint_catalog(load_shipped(), ASSETS, catalog, ROOT / "examples" / "shop", sample=5, sizes=("300x250",))
    b = lint_catalog(load_shipped(), ASSETS, catalog, ROOT / "examples" / "shop", sample=5, sizes=("300x250",))
    assert a.issues == b.issues and all(r["banners"] == 5 for r in a.summary())
