"""The interest model on small shops whose right answer can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bannergen.features import build_item_features, price_band_codes
from bannergen.profile import build_profiles, match_queries, resolve_as_of

END = pd.Timestamp("2026-11-28T23:59:59Z")


def catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["A", "B", "C", "D"],
            "title": ["phone A", "phone B", "camera C", "tv D"],
            "brand": ["苹果", "三星", "佳能", "小米"],
            "category": ["手机", "手机", "相机", "电视"],
            "price": [1000.0, 1500.0, 2000.0, 50.0],
            "list_price": [1299.0, np.nan, np.nan, np.nan],
            "image": [""] * 4,
            "stock": [1, 1, 1, 1],
            "url": [""] * 4,
        }
    )


def events(rows: list[tuple[str, str, str, pd.Timestamp, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event", "ts", "query"])


def zhangsan() -> pd.DataFrame:
    views = [("zhangsan", "A", "view", END, "")] * 3 + [("zhangsan", "B", "view", END, "")] * 2
    views += [("zhangsan", "C", "view", END, "")] * 5
    searches = [("zhangsan", "", "search", END, "手机"), ("zhangsan", "", "search", END, "相机")]
    return events(views + searches)


def test_worked_case_weights_and_interest_vector(interest):
    features = build_item_features(catalog(), interest)
    profiles = build_profiles(zhangsan(), features, interest, END)
    w = profiles.item_weights().toarray()[0]
    assert w == pytest.approx([0.3, 0.2, 0.5, 0.0])
    u = dict(zip(features.names, profiles.interest.toarray()[0]))
    # 10 units of view mass + 2 of search mass: each category gets its views plus its search.
    assert u["category:手机"] == pytest.approx(6 / 12)
    assert u["category:相机"] == pytest.approx(6 / 12)
    assert u["brand:佳能"] == pytest.approx(5 / 12)
    assert u["brand:苹果"] == pytest.approx(3 / 12)
    assert u["price_band:1000-3000"] == pytest.approx(10 / 12)


def test_half_life_halves_an_event(interest):
    features = build_item_features(catalog(), interest)
    half = pd.Timedelta(days=interest.half_life_days)
    ev = events([("u", "A", "view", END, ""), ("u", "C", "view", END - half, "")])
    w = build_profiles(ev, features, interest, END).item_weights().toarray()[0]
    assert w[0] == pytest.approx(2 * w[2])


def test_purchases_weigh_more_than_views_and_are_remembered(interest):
    features = build_item_features(catalog(), interest)
    ev = events([("u", "A", "view", END, ""), ("u", "C", "purchase", END - pd.Timedelta(days=2), "")])
    p = build_profiles(ev, features, interest, END)
    w = p.item_weights().toarray()[0]
    assert w[2] > w[0]
    assert p.purchases[0] == 1
    assert p.recent_purchase_age.toarray()[0, 2] == pytest.approx(3.0)  # 2 days + 1
    assert p.strongest.toarray()[0].tolist() == [1, 0, 3, 0]


def test_queries_match_names_and_aliases(interest):
    features = build_item_features(catalog(), interest)
    hits = match_queries(pd.Series(["佳能 相机", "Canon camera", "袜子"]), features, interest)
    names = {q: sorted(features.names[f] for f in g["feature"]) for q, g in hits.groupby("query")}
    assert names["佳能 相机"] == ["brand:佳能", "category:相机"]
    assert names["Canon camera"] == ["brand:佳能", "category:相机"]
    assert "袜子" not in names


def test_price_bands_follow_the_edges(interest):
    codes = price_band_codes(np.array([0.0, 99.99, 100.0, 2999.0, 3000.0, 1e6]), interest)
    labels = interest.band_labels()
    assert [labels[c] for c in codes] == ["0-100", "0-100", "100-300", "1000-3000", "3000-8000", "8000+"]


def test_a_fresh_session_outweighs_an_old_habit(interest):
    """A phone lover who views cameras right now leans to cameras now (short-term intent)."""
    features = build_item_features(catalog(), interest)
    habit = [("u", "A", "purchase", END - pd.Timedelta(days=d), "") for d in (3, 5, 9)]
    habit += [("u", "B", "cart", END - pd.Timedelta(days=d), "") for d in (2, 4)]
    now = [("u", "C", "view", END - pd.Timedelta(minutes=m), "") for m in range(5)]
    u = dict(
        zip(features.names, build_profiles(events(habit + now), features, interest, END).interest.toarray()[0])
    )
    assert u["category:相机"] > u["category:手机"]
    u_old = dict(
        zip(features.names, build_profiles(events(habit), features, interest, END).interest.toarray()[0])
    )
    assert u_old["category:手机"] == pytest.approx(1.0)


def test_as_of_defaults_to_the_newest_event():
    assert resolve_as_of(zhangsan()) == END
    assert resolve_as_of(zhangsan(), "2026-12-01") == pd.Timestamp("2026-12-01", tz="UTC")


event_rows = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["A", "B", "C", "D"]),
        st.sampled_from(["view", "cart", "purchase"]),
        st.integers(min_value=0, max_value=30 * 24),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(event_rows)
def test_vectorized_profiles_match_a_per_user_reference(interest, rows):
    """The sparse all-users computation equals the formula evaluated user by user:
    U = (1 - alpha) * long-term shares @ C + alpha * session shares @ C."""
    cat = catalog()
    features = build_item_features(cat, interest)
    ev = events([(u, i, e, END - pd.Timedelta(hours=h), "") for u, i, e, h in rows])
    profiles = build_profiles(ev, features, interest, END)
    C = features.matrix.toarray()
    w = interest
    for user, group in ev.groupby("user_id"):
        a, s = np.zeros(len(cat)), np.zeros(len(cat))
        last = group["ts"].max()
        for r in group.itertuples():
            age = (END - r.ts).total_seconds() / 86400
            j = cat.index[cat.item_id == r.item_id][0]
            a[j] += w.event_weights[r.event] * 0.5 ** (age / w.half_life_days)
            if (last - r.ts).total_seconds() <= w.session_minutes * 60:
                s[j] += w.event_weights[r.event]
        alpha = w.session_weight * 0.5 ** ((END - last).total_seconds() / 86400 / w.half_life_days)
        expected_u = (1 - alpha) * (a / a.sum()) @ C + alpha * (s / s.sum()) @ C
        row = profiles.row(user)
        assert profiles.interest.toarray()[row] == pytest.approx(expected_u, rel=1e-9, abs=1e-12)
