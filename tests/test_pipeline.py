"""End to end on the bundled example shop: render, manifest, cache, determinism, the worked case."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tree_guard import example_project

from bannergen.config import load_project
from bannergen.manifest import read_manifest
from bannergen.pipeline import Engine

ROOT = example_project()  # the example project; what tests write stays out of the working tree
# end to end: renders of the example shop, in this process and in subprocesses
pytestmark = pytest.mark.slow
SEGMENT = "camera-fans"
LIMIT = 12


def engine(tmp: Path, **overrides: str) -> Engine:
    settings = {"paths.out": str(tmp / "out"), "paths.rejects": str(tmp / "rejects.txt"), **overrides}
    return Engine(load_project(ROOT, settings))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("render")
    summary = engine(tmp).render(SEGMENT, limit=LIMIT)
    return tmp, summary


def test_render_draws_every_banner_a_decision_may_draw(first_run):
    """Serve never renders in a request's path, so batch renders every candidate with a probability
    above 0 in the decision log at every size, not only the drawn one; and the default banner."""
    _, summary = first_run
    manifest = read_manifest(summary.out)
    log = pd.read_parquet(summary.out / manifest["candidates"]["parquet"])
    rendered = {(v["item_ids"][0], v["template"], v["size"]) for v in manifest["variants"].values()}
    sizes = {v["size"] for v in manifest["variants"].values()}
    may = log[log["probability"] > 0]
    assert len(may) > summary.users  # more than the drawn ones
    assert {(i, t, s) for i, t in zip(may["item_id"], may["template"]) for s in sizes} <= rendered
    assert {(i, t) for i, t in zip(log.loc[log["chosen"], "item_id"], log.loc[log["chosen"], "template"])} < {
        (i, t) for i, t, _ in rendered}


def test_render_writes_a_manifest_the_cms_can_follow(first_run):
    tmp, summary = first_run
    out = summary.out
    manifest = read_manifest(out)
    assert manifest["schema_version"] == 1 and manifest["segment"] == SEGMENT
    assert manifest["generated_at"].endswith("+00:00")
    assert len(manifest["variants"]) == summary.unique_variants > 0
    for variant_id, v in manifest["variants"].items():
        assert set(v) >= {"template", "template_version", "size", "item_ids", "files"}
        assert set(v["files"]) == {"webp", "png", "html"}
        width, height = map(int, v["size"].split("x"))
        for fmt in ("png", "webp"):
            path = out / v["files"][fmt]
            assert path.name == f"{variant_id}.{fmt}"
            with Image.open(path) as im:
                im.load()
                assert im.format == fmt.upper() and im.size == (width, height)
        html = (out / v["files"]["html"]).read_text(encoding="utf-8")
        assert "<html" in html.lower()
    table = pd.read_csv(out / manifest["assignments"]["csv"], dtype=str, keep_default_na=False)
    assert list(table.columns[:8]) == ["user_id", "decision_id", "size", "variant_id", "item_id", "template", "score",
                                       "propensity"]
    assert set(table["variant_id"]) <= set(manifest["variants"])
    assert table["user_id"].nunique() == summary.users <= LIMIT
    assert (table["propensity"].astype(float).between(0, 1)).all()
    assert (table["explanation"] != "").all()
    parquet = pd.read_parquet(out / manifest["assignments"]["parquet"])
    assert len(parquet) == len(table)
    # The decision log beside it: every candidate of every decision; probabilities sum to 1 and the
    # chosen candidate's probability is the propensity the assignment carries.
    log = pd.read_parquet(out / manifest["candidates"]["parquet"])
    assert list(log.columns) == ["decision_id", "user_id", "position", "item_id", "template", "antecedent_id", "score",
                                 "probability", "chosen", "policy"]
    np.testing.assert_allclose(log.groupby("decision_id")["probability"].sum(), 1.0, atol=1e-9)
    chosen = log[log["chosen"]].set_index("decision_id")
    assert chosen.index.is_unique and set(chosen.index) == set(parquet["decision_id"])
    np.testing.assert_allclose(chosen.loc[parquet["decision_id"], "probability"], parquet["propensity"], atol=1e-12)
    assert (chosen.loc[parquet["decision_id"], "item_id"].to_numpy() == parquet["item_id"].to_numpy()).all()


def test_user_ids_never_appear_in_file_names(first_run):
    _, summary = first_run
    users = set(pd.read_csv(summary.out / read_manifest(summary.out)["assignments"]["csv"], dtype=str)["user_id"])
    for path in summary.out.rglob("*"):
        assert not any(u in path.name for u in users), path


def test_an_unchanged_rerun_renders_nothing(first_run):
    tmp, summary = first_run
    again = engine(tmp).render(SEGMENT, limit=LIMIT)
    assert again.unchanged and again.rendered == 0 and again.cached == summary.unique_variants
    assert "profile" not in again.timings  # same run key: no model, no scoring
    forced = engine(tmp).render(SEGMENT, limit=LIMIT, force=True)
    assert not forced.unchanged and forced.rendered == 0 and forced.cached == summary.unique_variants
    assert read_manifest(forced.out)["variants"].keys() == read_manifest(summary.out)["variants"].keys()


def test_a_deleted_asset_is_rendered_again(first_run):
    tmp, summary = first_run
    manifest = read_manifest(summary.out)
    victim = summary.out / next(iter(manifest["variants"].values()))["files"]["webp"]
    victim.unlink()
    again = engine(tmp).render(SEGMENT, limit=LIMIT)
    assert not again.unchanged and again.rendered == 1 and victim.is_file()


def test_a_price_change_rerenders_only_that_items_variants(first_run, tmp_path):
    tmp, summary = first_run
    manifest = read_manifest(summary.out)
    item = next(iter(manifest["variants"].values()))["item_ids"][0]
    shown = [vid for vid, v in manifest["variants"].items() if v["item_ids"] == [item]]
    catalog = pd.read_csv(ROOT / "examples/shop/catalog.csv", dtype=str, keep_default_na=False)
    # a small change that keeps the item's price band and discount, so the same users still get it
    row = catalog["item_id"] == item
    catalog.loc[row, "price"] = (catalog.loc[row, "price"].astype(float) - 1).map("{:.2f}".format)
    shutil.copytree(ROOT / "examples/shop/images", tmp_path / "images")
    catalog.to_csv(tmp_path / "catalog.csv", index=False)
    changed = engine(tmp, **{"data.catalog": str(tmp_path / "catalog.csv")}).render(SEGMENT, limit=LIMIT)
    new_manifest = read_manifest(changed.out)
    new_ids = {vid for vid, v in new_manifest["variants"].items() if v["item_ids"] == [item]}
    assert changed.rendered == len(new_ids) == len(shown) and not (new_ids & set(shown))
    others = {vid for vid, v in new_manifest["variants"].items() if v["item_ids"] != [item]}
    assert others <= set(manifest["variants"])


def test_two_processes_give_byte_identical_files(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        subprocess.run(
            [sys.executable, "-m", "bannergen.cli.main", "--project", str(ROOT), "render", "--segment", SEGMENT,
             "--limit", "2", "--out", str(out), "--quiet"],
            check=True, capture_output=True,
        )
        outs.append(out)
    a, b = (read_manifest(o) for o in outs)
    assert a["variants"] == b["variants"]
    for v in a["variants"].values():
        for rel in v["files"].values():
            assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes()
    assert (outs[0] / a["assignments"]["csv"]).read_bytes() == (outs[1] / b["assignments"]["csv"]).read_bytes()


def test_zhangsan_gets_the_camera_launch_banner(tmp_path):
    """The design article's worked case (section 4.3)."""
    ex = engine(tmp_path).explain("zhangsan")
    weights = dict(zip(ex.item_weights["category"] + ex.item_weights["brand"], ex.item_weights["weight"]))
    # the events span 22 minutes, so a 7-day half-life moves the weights by well under 0.001
    assert weights == pytest.approx({"手机苹果": 0.3, "手机三星": 0.2, "相机佳能": 0.5}, abs=1e-3)
    assert sorted(ex.searches["query"]) == ["手机", "相机"]
    by_headline = {c.headline: c for c in ex.candidates}
    camera, phone = by_headline["相机新品上市"], by_headline["手机优惠活动"]
    assert camera.probability > phone.probability > 0.1
    assert sum(c.probability for c in ex.candidates) == pytest.approx(1.0)
    assert ex.chosen == camera
    assert ex.explanation == "因为你浏览了 佳能 相机"
    assert ex.propensity == pytest.approx(camera.probability, abs=1e-6)


def test_segments_partition_sensibly(tmp_path):
    sizes = engine(tmp_path).segment_sizes().set_index("segment")["users"]
    assert sizes["all"] >= 3000
    assert 0 < sizes["camera-fans"] < sizes["all"]


def test_an_association_rule_becomes_a_cross_sell_banner(tmp_path):
    """"买了 A 的人也买了 B": when a rule brought the chosen item, the banner shows both items."""
    from bannergen.variants import plan_variants

    eng = engine(tmp_path)
    decisions = eng.decisions("all").chosen
    cross = decisions[decisions["template"] == "cross-sell"]
    assert len(cross) > 0 and (cross["antecedent"] >= 0).all()
    assert cross["explanation"].str.match(r"^买了 .+ 的人 \d+% 也买了 .+, lift \d").all()
    assert (decisions.loc[decisions["template"] != "cross-sell", "antecedent"] == -1).all()
    one = cross.head(1)
    rows, specs = plan_variants(one, eng.model.catalog, ROOT / "examples/shop", eng.templates, eng.renderer, ("1200x400",))
    spec = next(iter(specs.values()))
    catalog = eng.model.catalog
    assert spec.context.item_id == one["item_id"].iat[0]
    assert spec.context.antecedent_id == catalog["item_id"].iat[int(one["antecedent"].iat[0])]
    assert spec.context.antecedent and spec.context.antecedent_image is not None
    with Image.open(io.BytesIO(eng.renderer.render(spec).files["png"])) as im:
        assert im.size == (1200, 400)


def test_explain_shows_a_cross_sell_or_carousel_banner_as_it_was_chosen(tmp_path):
    """explain's candidates are the banners decide draws from: a cross-sell user's chosen candidate
    is the cross-sell banner with the rule as its reason, a comparing user's the carousel."""
    eng = engine(tmp_path)
    decisions = eng.decisions("all").chosen
    for template, reason in (("cross-sell", "买了 "), ("carousel", "因为你比较了")):
        d = decisions[(decisions["template"] == template) & (decisions["policy"] == "softmax")].iloc[0]
        ex = eng.explain(eng.shop.raw_ids[d["user_id"]])  # decisions hold pseudonyms; explain takes the raw id
        assert ex.chosen is not None and (ex.chosen.item_id, ex.chosen.template_id) == (d["item_id"], template)
        assert ex.explanation == d["explanation"] and ex.explanation.startswith(reason)
