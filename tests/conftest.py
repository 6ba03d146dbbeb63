"""Shared fixtures: the repository root (a working bannergen project), ../shared/data, interest
weights built in code, and the tiny shop the scorer tests share."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bannergen.features import build_item_features
from bannergen.profile import build_profiles
from bannergen.scorers.base import Interactions, build_interactions
from bannergen.scorers.settings import InterestWeights

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

pytest_plugins = ["postgres_fixture", "tree_guard"]

# Projects the tests write for themselves have no [privacy] secret: user ids are hashed with the example
# shop's (so the draws match the README's), and the commands they run as subprocesses inherit it.
# Tests of a missing secret remove it.
EXAMPLE_SECRET = "example-shop-demo-secret-not-for-real-customers"
os.environ["BANNERGEN_SECRET"] = EXAMPLE_SECRET


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with the most end-to-end (slow) tests first, each module's tests kept together.
    pytest-xdist hands the tests out in this order and an idle process steals from the end of a
    busy one's queue: long tests at the start overlap with everything else, where long tests at
    the end could leave one process working alone."""
    slow = Counter(item.module.__name__ for item in items if item.get_closest_marker("slow") and item.module)
    items.sort(key=lambda item: -slow[item.module.__name__] if item.module else 0)  # stable: a module keeps its order


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The example project: a mirror of the repository whose outputs stay out of the working tree."""
    from tree_guard import example_project

    return example_project()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


# -- interest weights and the tiny shop the scorer tests share ----------------------------------
# Built here, not read from scoring/weights.toml: campaign teams edit that file, and a unit test's
# expected numbers must not move with it. The values are the engine's defaults.


@pytest.fixture(scope="session")
def interest() -> InterestWeights:
    return InterestWeights(
        event_weights={"view": 1.0, "search": 1.0, "cart": 3.0, "purchase": 5.0},
        half_life_days=7.0,
        category=1.0,
        brand=0.6,
        price_band=0.4,
        item=0.2,
        popularity=0.05,
        band_edges=(0.0, 100.0, 300.0, 1000.0, 3000.0, 8000.0),
        aliases={"camera": "相机", "canon": "佳能", "phone": "手机"},
        session_minutes=30.0,
        session_weight=0.5,
    )


TINY_END = pd.Timestamp("2026-11-28T00:00:00Z")


def _tiny_catalog() -> pd.DataFrame:
    items = list("ABCDEF")
    return pd.DataFrame({
        "item_id": items, "title": [f"item {i}" for i in items], "brand": ["b1"] * 3 + ["b2"] * 2 + ["b3"],
        "category": ["c1"] * 3 + ["c2"] * 2 + ["c3"], "price": [10.0] * 6, "list_price": [np.nan] * 6,
        "image": [""] * 6, "stock": [1] * 6, "url": [""] * 6,
    })


def _tiny_events() -> pd.DataFrame:
    """{A, B, C} are bought together, {D, E} are bought together, F by everyone; "ab" bought A
    (twice) and B, "d" bought D."""
    rows = []
    day = pd.Timedelta(days=1)
    for n in range(8):  # eight users buy the whole first cluster, in one order each
        for item in "ABC":
            rows.append((f"x{n}", item, "purchase", TINY_END - (n + 2) * day, ""))
        rows.append((f"x{n}", "F", "purchase", TINY_END - 3 * day, ""))
    for n in range(6):
        for item in "DE":
            rows.append((f"y{n}", item, "purchase", TINY_END - (n + 2) * day, ""))
        rows.append((f"y{n}", "F", "purchase", TINY_END - 3 * day, ""))
    rows += [("ab", "A", "purchase", TINY_END - day, ""), ("ab", "B", "purchase", TINY_END - day, ""),
             ("d", "D", "purchase", TINY_END - day, ""), ("ab", "A", "purchase", TINY_END - 2 * day, "")]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event", "ts", "query"])


@pytest.fixture(scope="session")
def tiny_end() -> pd.Timestamp:
    """The tiny shop's reference time: its newest purchase is a day before."""
    return TINY_END


@pytest.fixture
def tiny_catalog() -> pd.DataFrame:
    """Six items A..F in three categories and brands (a fresh frame per test)."""
    return _tiny_catalog()


@pytest.fixture
def tiny_events() -> pd.DataFrame:
    """The tiny shop's purchases (a fresh frame per test)."""
    return _tiny_events()


@pytest.fixture(scope="session")
def tiny_data(interest: InterestWeights) -> Interactions:
    """The tiny shop as Interactions with profiles and item features."""
    events = _tiny_events()
    features = build_item_features(_tiny_catalog(), interest)
    profiles = build_profiles(events, features, interest, TINY_END)
    return build_interactions(events, _tiny_catalog()["item_id"], TINY_END).with_content(profiles, features)


@pytest.fixture(scope="session")
def scorer_params() -> dict[str, dict[str, Any]]:
    """Hyperparameters that suit the tiny shop (the defaults are sized for real shops)."""
    return {"association_rules": {"min_support": 0.05, "min_confidence": 0.1}, "svd": {"factors": 2}, "ease": {"l2": 1.0}}
