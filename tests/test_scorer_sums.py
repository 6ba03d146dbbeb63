"""Scorers fitted from sums over users: partitions of users, each adding up its own sums, fit the
same model as the whole shop at once (what a render on Dask relies on, bannergen.distributed.fit)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bannergen.scorers.base import Interactions, build_interactions, item_side
from bannergen.scorers.blend import Blend, make_scorer
from bannergen.scorers.registry import SCORERS
from bannergen.scorers.settings import BlendSettings
from bannergen.scorers.sums import add_sums, compact, gram


def _dense(m: object) -> np.ndarray:
    return m.toarray() if sp.issparse(m) else np.asarray(m)


@pytest.fixture(scope="module")
def shop(repo_root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    catalog = pd.read_csv(repo_root / "examples/shop/catalog.csv", dtype={"item_id": str})
    events = pd.read_parquet(repo_root / "examples/shop/events.parquet")
    events["user_id"] = events["user_id"].astype(str)
    events["item_id"] = events["item_id"].fillna("").astype(str)
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    return catalog, events, events["ts"].max()


def _interactions(catalog: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp,
                  has_purchases: bool) -> Interactions:
    data = build_interactions(events, catalog["item_id"], as_of, titles=catalog["title"])
    from dataclasses import replace

    return replace(data, has_purchases=has_purchases)


def _partitions(events: pd.DataFrame, count: int) -> list[pd.DataFrame]:
    """The events split by user: every user's events in one partition, as on a cluster."""
    users = np.sort(events["user_id"].unique())
    bucket = pd.Series(np.arange(len(users)) % count, index=users)
    return [events[events["user_id"].map(bucket).to_numpy() == k] for k in range(count)]


PARAMS = {
    "popularity": [{}, {"half_life_days": 10.0}],
    "popularity_recent": [{"days": 7}],
    "popularity_now": [{}],
    "history": [{}],
    "item_knn": [{"neighbours": 20, "transform": "log"}, {"transform": "binary"}],
    "ease": [{"l2": 200.0, "transform": "log"}, {"l2": 50.0, "half_life_days": 14.0}, {"l2": 1e-3}],
    "association_rules": [{"min_support": 0.002, "min_confidence": 0.05}],
    "title": [{}],
}
CASES = [(name, params) for name, options in PARAMS.items() for params in options]


def _state_equal(a: dict, b: dict, rtol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = a[key], b[key]
        if sp.issparse(x):
            x, y = x.toarray(), y.toarray()
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape, key
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(x, y, err_msg=key)


@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_partitions_fit_what_the_whole_shop_fits(shop, name: str, params: dict) -> None:
    catalog, events, as_of = shop
    has_purchases = bool((events["event"] == "purchase").any())
    whole = make_scorer(name, params, None).fit(_interactions(catalog, events, as_of, has_purchases))
    assert make_scorer(name, params, None).additive()

    template = make_scorer(name, params, None)
    total: dict = {}
    for part in _partitions(events, 3):
        sums: dict = {}
        template.sums(_interactions(catalog, part, as_of, has_purchases), sums)
        total = add_sums(total, sums)
    shell = item_side(pd.Index(catalog["item_id"]), as_of, catalog["title"], has_purchases)
    parted = make_scorer(name, params, None).fit_sums(total, shell)
    _state_equal(whole.state(), parted.state(), rtol=1e-5)

    data = _interactions(catalog, events, as_of, has_purchases)
    rows = np.arange(min(200, data.n_users))
    a, b = whole.score(data, rows), parted.score(data, rows)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_gram_is_xtx_whatever_the_block_size() -> None:
    rng = np.random.default_rng(3)
    x = sp.random(500, 40, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    expected = (x.astype(np.float64).T @ x.astype(np.float64)).toarray()
    for block in (1, 7, 500, 10_000):
        np.testing.assert_allclose(_dense(gram(x, block)), expected, rtol=1e-12)


def test_a_sum_is_kept_dense_once_that_is_smaller() -> None:
    rng = np.random.default_rng(5)
    thin = sp.random(2000, 300, density=0.002, format="csr", random_state=rng)
    full = sp.random(2000, 30, density=0.5, format="csr", random_state=rng)
    assert sp.issparse(gram(thin)) and isinstance(gram(full), np.ndarray)
    assert isinstance(compact(sp.csr_matrix(np.ones((4, 4)))), np.ndarray)
    assert sp.issparse(compact(sp.csr_matrix(np.eye(4))))


def test_dense_and_sparse_sums_add_to_the_same_total() -> None:
    rng = np.random.default_rng(7)
    a = sp.random(30, 30, density=0.9, format="csr", random_state=rng)
    b = sp.random(30, 30, density=0.05, format="csr", random_state=rng)
    expected = a.toarray() + b.toarray()
    for x, y in [(a, b), (a.toarray(), b), (a, b.toarray()), (a.toarray(), b.toarray())]:
        before = _dense(x).copy()
        np.testing.assert_allclose(_dense(add_sums({"g": x}, {"g": y})["g"]), expected, rtol=1e-12)
        np.testing.assert_array_equal(_dense(x), before)  # an input is never added into


def test_add_sums_adds_each_key_and_keeps_a_key_only_one_side_has() -> None:
    a = {"n": np.asarray([2.0]), "g": sp.csr_matrix(np.eye(2))}
    b = {"n": np.asarray([3.0]), "g": sp.csr_matrix(np.ones((2, 2))), "only": np.asarray([1.0])}
    total = add_sums(a, b)
    assert total["n"].tolist() == [5.0]
    assert _dense(total["g"]).tolist() == [[2.0, 1.0], [1.0, 2.0]]
    assert total["only"].tolist() == [1.0]
    assert a["n"].tolist() == [2.0]  # the inputs are left as they were


def test_a_blend_names_the_scorers_that_need_every_users_rows(interest) -> None:
    settings = BlendSettings(weights={"content": 1.0, "svd": 0.1, "item_knn": 0.1, "ease": 0.1,
                                      "association_rules": 0.1},
                             params={"item_knn": {"weighting": "bm25"}, "association_rules": {"max_len": 3}})
    blend = Blend.from_settings(settings, interest)
    assert sorted(blend.needs_every_user()) == ["association_rules", "item_knn", "svd"]
    assert set(blend.from_sums()) == {"ease", settings.cold_start}
    assert "content" not in blend.from_sums() + blend.needs_every_user()
    assert set(SCORERS) >= set(blend.scorers)


def test_a_blend_fitted_from_sums_frees_each_sum_after_its_last_reader(shop, interest) -> None:
    catalog, events, as_of = shop
    settings = BlendSettings(weights={"item_knn": 0.1, "ease": 0.1, "association_rules": 0.1, "popularity": 0.1},
                             params={"item_knn": {"transform": "log"}, "ease": {"transform": "log"}})
    data = _interactions(catalog, events, as_of, True)
    blend = Blend.from_settings(settings)
    sums = blend.sums(data)
    assert "gram/log/0" in sums and "baskets/pairs" in sums
    blend.fit_sums(sums, item_side(pd.Index(catalog["item_id"]), as_of, catalog["title"], True))
    assert sums == {}  # every sum was handed to its last reader
    for name, scorer in Blend.from_settings(settings).fit(data).scorers.items():
        alone = make_scorer(name, settings.params.get(name), None).fit(data)
        _state_equal(scorer.state(), alone.state(), rtol=1e-6)
        _state_equal(blend.scorers[name].state(), alone.state(), rtol=1e-6)
