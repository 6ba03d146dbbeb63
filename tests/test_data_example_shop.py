"""The committed example shop: it loads cleanly, is big enough, holds the article's worked case,
and is exactly what examples/generate_shop.py writes."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from bannergen.data import load_catalog, load_events

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "examples" / "shop"
GENERATOR = ROOT / "examples" / "generate_shop.py"


def generator():
    spec = importlib.util.spec_from_file_location("generate_shop", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def shop() -> tuple[pd.DataFrame, pd.DataFrame]:
    catalog = load_catalog(SHOP / "catalog.csv")
    events = load_events(SHOP / "events.parquet", known_items=pd.Index(catalog.frame["item_id"]))
    assert catalog.rejects == () and events.rejects == ()
    return catalog.frame, events.frame


def test_catalog_is_big_and_varied(shop: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    catalog, _ = shop
    assert len(catalog) >= 300
    assert catalog["category"].nunique() >= 10 and catalog["brand"].nunique() >= 25
    assert catalog["item_id"].str.fullmatch(r"0\d{5}").all()  # leading zeros survive loading
    assert 0.3 < catalog["list_price"].notna().mean() < 0.5
    assert (catalog["stock"] == 0).any()
    assert (catalog["title"].str.len() > 60).any()
    assert catalog["url"].eq("https://shop.example.com/item/" + catalog["item_id"]).all()


def test_images_exist_and_stay_small(shop: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    catalog, _ = shop
    assert catalog["image"].eq("images/" + catalog["item_id"] + ".jpg").all()
    assert all((SHOP / image).is_file() for image in catalog["image"])
    assert sum(p.stat().st_size for p in (SHOP / "images").iterdir()) < 4_000_000


def test_events_are_big_and_span_thirty_days(shop: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, events = shop
    assert len(events) >= 100_000 and events["user_id"].nunique() >= 3000
    assert events["ts"].max() == pd.Timestamp("2026-11-28T23:59:59Z")
    assert events["ts"].min() >= pd.Timestamp("2026-10-30T00:00:00Z")
    assert events["ts"].max() - events["ts"].min() > pd.Timedelta(days=29)
    share = events["event"].value_counts(normalize=True)
    assert set(share.index) == {"view", "search", "cart", "purchase"}
    assert 0.01 < share["purchase"] < 0.03
    searches = events[events["event"] == "search"]
    assert searches["query"].ne("").all() and searches["query"].str.contains("手机").any()


def test_the_articles_worked_case(shop: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    catalog, events = shop
    abc = catalog.set_index("item_id").loc[["000101", "000102", "000103"]]
    assert abc[["brand", "category", "price"]].values.tolist() == [
        ["苹果", "手机", 1000.0], ["三星", "手机", 1500.0], ["佳能", "相机", 2000.0]]
    assert abc["list_price"].notna().tolist() == [True, True, False]  # C is a new launch

    mine = events[events["user_id"] == "zhangsan"]
    assert mine["event"].value_counts().to_dict() == {"view": 10, "search": 2}
    views = mine.loc[mine["event"] == "view", "item_id"].value_counts(normalize=True).to_dict()
    assert views == {"000103": 0.5, "000101": 0.3, "000102": 0.2}
    assert mine.loc[mine["event"] == "search", "query"].tolist() == ["手机", "相机"]
    assert mine.loc[mine["event"] == "search", "item_id"].tolist() == ["", ""]
    assert (mine["ts"] >= events["ts"].max() - pd.Timedelta(hours=1)).all()


@pytest.mark.slow
def test_committed_shop_is_the_generators_output(tmp_path: Path) -> None:
    # catalog.csv must match byte for byte. Parquet and JPEG bytes also carry the pyarrow and
    # libjpeg versions, so those are compared by content and by name.
    generator().main(["--out", str(tmp_path / "shop")])
    fresh = tmp_path / "shop"
    assert (fresh / "catalog.csv").read_bytes() == (SHOP / "catalog.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(fresh / "events.parquet"), pd.read_parquet(SHOP / "events.parquet"))
    assert sorted(p.name for p in (fresh / "images").iterdir()) == sorted(p.name for p in (SHOP / "images").iterdir())


def test_generator_is_deterministic_and_scales_down(tmp_path: Path) -> None:
    gen = generator()
    for name in ("a", "b"):
        gen.main(["--users", "40", "--items", "30", "--events", "2000", "--images", "shared",
                  "--seed", "3", "--out", str(tmp_path / name)])
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    catalog = load_catalog(tmp_path / "a" / "catalog.csv")
    events = load_events(tmp_path / "a" / "events.parquet", known_items=pd.Index(catalog.frame["item_id"]))
    assert catalog.rejects == () and events.rejects == ()
    assert len(catalog.frame) == 30 and len(events.frame) == 2000 + 12
    assert catalog.frame["image"].str.fullmatch(r"images/[a-z]+\.jpg").all()
