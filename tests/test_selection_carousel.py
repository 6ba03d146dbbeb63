"""Carousel banners for users who are comparing: companions, the per-candidate switch, rendering,
settings, and the same banner from batch render and from the service."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tree_guard import example_project

from bannergen.config import load_project
from bannergen.errors import ConfigError
from bannergen.pipeline import Engine
from bannergen.scorers.settings import load_campaign_rules
from bannergen.selection.carousel import companions_of, product_keys
from bannergen.variants import plan_variants

ROOT = example_project()  # the example project; what tests write stays out of the working tree


def engine(tmp: Path, **overrides: str) -> Engine:
    settings = {"paths.out": str(tmp / "out"), "paths.rejects": str(tmp / "rejects.txt"), **overrides}
    return Engine(load_project(ROOT, settings))


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    eng = engine(tmp_path_factory.mktemp("carousel"))
    return eng, eng.decisions("all").chosen


def test_companions_are_the_most_popular_other_allowed_items_of_the_category():
    category = np.array([0, 0, 0, 0, 1, 1, 0])
    allowed = np.array([True, True, True, False, True, True, True])
    popularity = np.array([0.9, 0.5, 0.7, 1.0, 0.3, 0.2, 0.1])
    titles = np.array([0, 1, 2, 3, 4, 5, 2])  # item 6 is item 2 listed again
    out = companions_of(category, allowed, popularity, 2, titles)
    assert out[0].tolist() == [2, 1]  # never itself; item 3 is out of stock despite its popularity
    assert out[1].tolist() == [0, 2]
    assert out[3].tolist() == [0, 2]  # an item not allowed itself still has companions (it is never shown)
    assert out[6].tolist() == [0, 1]  # not beside its own twin (item 2, the same title)
    assert out[4].tolist() == [5, -1] and out[5].tolist() == [4, -1]  # a category of two fills one slot
    assert companions_of(category, allowed, popularity, 0).shape == (7, 0)


def test_one_product_listed_twice_has_one_key():
    titles = pd.Series([
        "Bose QuietComfort Ultra 头戴式耳机 曜石黑",
        "Bose QuietComfort Ultra 头戴式耳机 曜石黑 【官方旗舰店 正品行货】全国联保 Limited Edition",
        "bose  quietcomfort ultra 头戴式耳机 曜石黑 [2024]",
        "华为 FreeBuds Pro 3 无线耳机 雾霾蓝",
        "【预售】新品", "【预售】旧品",  # nothing before the bracket: the whole title is the name
    ])
    keys = product_keys(titles)
    assert keys[0] == keys[1] == keys[2] and len(set(keys[2:])) == 4


def test_comparing_users_get_a_carousel_with_a_reason(decided):
    eng, decisions = decided
    model = eng.model
    carousel = decisions[decisions["template"] == "carousel"]
    assert 0 < len(carousel) < len(decisions)
    categories = model.catalog["category"].to_numpy()
    codes = model.features.codes["category"]
    within = model.settings.campaign_rules.carousel_within_days
    for _, d in carousel.head(50).iterrows():
        n = int(d["explanation"].removeprefix("因为你比较了 ").split(" ")[0])
        assert d["explanation"] == f"因为你比较了 {n} 款{categories[d['item']]}"
        ages = model.interactions.last_seen[int(d["row"])].tocoo()  # days before as_of, + 1
        recent = {j for j, age in zip(ages.col, ages.data) if 0 < age <= 1 + within and codes[j] == codes[d["item"]]}
        assert n == len(recent) >= model.settings.campaign_rules.carousel_min_compared
    zhangsan = eng.pseudonyms.one("zhangsan")  # the decisions know users by their pseudonyms
    assert decisions.loc[decisions["user_id"] == zhangsan, "template"].iat[0] == "category-launch"  # 2 phones, 1 camera


def test_a_carousel_shows_three_distinct_in_stock_items_of_one_category(decided):
    eng, decisions = decided
    one = decisions[decisions["template"] == "carousel"].head(1)
    rows, specs = plan_variants(one, eng.model.catalog, ROOT / "examples/shop", eng.templates, eng.renderer,
                                ("1200x400",), eng.model.carousel.companions)
    spec = next(iter(specs.values()))
    items = spec.context.items
    catalog = eng.model.catalog.set_index("item_id")
    assert len(items) == 3 and items[0].item_id == one["item_id"].iat[0]
    assert len({i.item_id for i in items}) == len(set(product_keys(pd.Series([i.title for i in items])))) == 3
    assert {catalog.at[i.item_id, "category"] for i in items} == {items[0].category}
    assert (catalog.loc[[i.item_id for i in items], "stock"] > 0).all()
    png = eng.renderer.render(spec).files["png"]
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        assert im.size == (1200, 400)


def test_min_compared_zero_turns_carousels_off(tmp_path):
    scoring = tmp_path / "scoring"
    shutil.copytree(ROOT / "scoring", scoring)
    rules = scoring / "campaign_rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("min_compared = 3", "min_compared = 0"), encoding="utf-8")
    decisions = engine(tmp_path, **{"paths.scoring": str(scoring)}).decisions("all").chosen
    assert "carousel" not in set(decisions["template"])


@pytest.mark.parametrize("line,message", [
    ("min_compared = 2.5", "integer >= 0; got 2.5"), ("min_compared = -1", "integer >= 0; got -1"),
    ('min_compared = "three"', "integer >= 0; got 'three'"),
    ("within_days = 0", "must be a number > 0"), ("within_dys = 3", "within_days"),
])
def test_bad_carousel_settings_are_one_clear_error(tmp_path, line, message):
    path = tmp_path / "campaign_rules.toml"
    path.write_text(f"[carousel]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        load_campaign_rules(path)
    assert str(path) in str(error.value) and "[carousel]" in str(error.value)


def test_candidates_scored_in_threaded_blocks_equal_one_block(decided, monkeypatch):
    """Model.candidates on two threads over many small blocks gives exactly the one-block result."""
    import bannergen.model

    eng, _ = decided
    model = eng.model
    rows = np.arange(model.profiles.n_users)
    whole_items, whole_scores = model.candidates(rows)  # the example shop fits in one block
    monkeypatch.setattr(bannergen.model, "BLOCK_CELLS", 97 * model.features.n_items)  # 31 blocks of 97 users
    monkeypatch.setattr(bannergen.model, "BLOCK_THREADS", 2)
    items, scores = model.candidates(rows)
    np.testing.assert_array_equal(items, whole_items)
    np.testing.assert_array_equal(scores, whole_scores)
