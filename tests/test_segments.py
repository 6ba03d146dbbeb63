"""Segments a campaign team writes: event counts, first and last seen, spend, categories and
brands, combined with all/any, on a shop small enough to count by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bannergen.errors import ConfigError
from bannergen.features import build_item_features
from bannergen.profile import build_profiles
from bannergen.segments import ProfileSummary, explain_condition, load_segments, segment_mask

END = pd.Timestamp("2026-11-28T12:00:00Z")
CATALOG = pd.DataFrame({
    "item_id": ["A", "B", "C"], "title": ["phone A", "camera B", "lipstick C"], "brand": ["苹果", "佳能", "雅诗兰黛"],
    "category": ["手机", "相机", "美妆"], "price": [1000.0, 4000.0, 300.0], "list_price": [np.nan] * 3,
    "image": [""] * 3, "stock": [1] * 3, "url": [""] * 3})


def day(n: float) -> pd.Timestamp:
    return END - pd.Timedelta(days=n)


# new: 2 views, first seen 1 day ago. loyal: 30 days of history, 2 purchases of B (8,000 spent).
# browser: 6 views of C and a search, 10 days old, no purchase. carter: a cart of A, a purchase of C.
EVENTS = pd.DataFrame(
    [("new", "A", "view", day(1), ""), ("new", "A", "view", day(0.5), "")]
    + [("loyal", "B", "view", day(30), ""), ("loyal", "B", "purchase", day(20), ""),
       ("loyal", "B", "purchase", day(3), "")]
    + [("browser", "C", "view", day(10 - k), "") for k in range(6)] + [("browser", "", "search", day(2), "口红")]
    + [("carter", "A", "cart", day(5), ""), ("carter", "C", "purchase", day(4), "")],
    columns=["user_id", "item_id", "event", "ts", "query"])


@pytest.fixture(scope="module")
def summary(interest) -> ProfileSummary:
    features = build_item_features(CATALOG, interest)
    return ProfileSummary.of(build_profiles(EVENTS, features, interest, END), features)


def members(tmp_path: Path, body: str, summary: ProfileSummary) -> list[str]:
    path = tmp_path / "segments.toml"
    path.write_text(f"[s]\n{body}\n", encoding="utf-8")
    mask = segment_mask(load_segments(path)["s"], summary)
    return sorted(np.asarray(["browser", "carter", "loyal", "new"])[mask])  # profile rows are sorted user ids


@pytest.mark.parametrize(("body", "expected"), [
    ("max_events = 5\nmax_purchases = 0", ["new"]),  # new customers: at most 5 events, no purchase
    ("min_events = 7", ["browser"]),  # 6 views and a search
    ("min_views = 2\nmax_views = 2", ["new"]),
    ("min_carts = 1", ["carter"]),
    ("min_purchases = 1", ["carter", "loyal"]),
    ("min_spend = 5000", ["loyal"]),
    ("min_spend = 100\nmax_spend = 1000", ["carter"]),
    ("first_seen_within_days = 7", ["carter", "new"]),
    ("first_seen_before_days = 25", ["loyal"]),
    ("active_within_days = 2", ["browser", "new"]),
    ("inactive_for_days = 3", ["carter", "loyal"]),
    ("categories = [\"美妆\"]", ["browser", "carter"]),
    ("brands = \"佳能\"", ["loyal"]),
    ("categories = [\"家具\"]", []),  # a category the catalog does not have: nobody
    ("any = [{ min_spend = 5000 }, { min_carts = 1 }]", ["carter", "loyal"]),
    ("all = [{ max_purchases = 0 }, { any = [{ categories = \"美妆\" }, { max_events = 2 }] }]", ["browser", "new"]),
    ("max_events = 10\nany = [{ min_purchases = 1, categories = \"手机\" }, { min_views = 6 }]", ["browser", "carter"]),
])
def test_who_is_in_a_segment(tmp_path, summary, body, expected):
    assert members(tmp_path, body, summary) == expected


@pytest.mark.parametrize(("body", "message"), [
    ("min_events = -1", r"\[s\]: 'min_events' must be an integer >= 0; got -1"),
    ("max_evnts = 5", r"\[s\]: unknown setting 'max_evnts' \(hint: did you mean 'max_events'\?\)"),
    ("min_spend = 10\nmax_spend = 5", r"\[s\]: 'min_spend' \(10\) is above 'max_spend' \(5\); no user can meet both"),
    ("any = []", r"\[s\]: 'any' must be a non-empty list of tables; got \[\]"),
    ("all = [{ max_evnts = 5 }]", r"\[s\] all\[0\]: unknown setting 'max_evnts'"),
    ("any = [{ description = 'x', max_events = 1 }]", r"\[s\] any\[0\]: 'description' belongs to the segment"),
    ("description = 'nothing'", r"\[s\]: has no conditions"),
])
def test_bad_segments_name_the_table_and_key(tmp_path, body, message):
    path = tmp_path / "segments.toml"
    path.write_text(f"[s]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_segments(path)


def test_explain_counts_every_part(tmp_path, summary):
    path = tmp_path / "segments.toml"
    path.write_text("[s]\nmax_events = 10\nany = [{ min_purchases = 1, categories = \"手机\" }, { min_views = 6 }]\n",
                    encoding="utf-8")
    lines = list(explain_condition(load_segments(path)["s"].condition, summary))
    assert lines == [
        (0, "events <= 10", 4),
        (0, "any of", 2),  # carter (bought, touched 手机) and browser (6 views); loyal bought but no 手机
        (1, "all of", 1),
        (2, "categories: 手机", 2),  # tests are listed in the order of the reference, not of the file
        (2, "purchases >= 1", 2),
        (1, "views >= 6", 1),
    ]


def test_the_shipped_new_customers_segment(repo_root):
    segments = load_segments(repo_root / "scoring/segments.toml")
    assert segments["new-customers"].conditions == {"max_events": 5, "max_purchases": 0}
