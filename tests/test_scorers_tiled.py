"""The tiled dense product EASE scores with, and the one-block-at-a-time blend, against the plain
formulas they replace: x @ B, and sum_b w_b * block_b with the cold-start fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from bannergen.features import build_item_features
from bannergen.profile import build_profiles
from bannergen.scorers.base import build_interactions, implicit_matrix
from bannergen.scorers.blend import Blend
from bannergen.scorers.collaborative import FLOAT32_CONDITION_LIMIT, EASEScorer, condition_bound
from bannergen.scorers.settings import BlendSettings
from bannergen.scorers.tiled import THREADED_MIN_ROWS, TiledWeights, tile_width


def _sparse_users(rng: np.random.Generator, n_users: int, n_items: int, density: float) -> sp.csr_matrix:
    return sp.random(n_users, n_items, density=density, format="csr", dtype=np.float32, random_state=rng)


@settings(max_examples=40, deadline=None)
@given(n_users=st.sampled_from([1, 3, THREADED_MIN_ROWS, THREADED_MIN_ROWS + 37]),
       n_rows=st.integers(1, 90), n_cols=st.integers(1, 90), width=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_tiled_product_equals_the_dense_product(n_users, n_rows, n_cols, width, seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((n_rows, n_cols)).astype(np.float32)
    x = _sparse_users(rng, n_users, n_rows, 0.2)
    weights = TiledWeights.from_dense(b, width=width)
    assert weights.shape == (n_rows, n_cols)
    np.testing.assert_array_equal(weights.to_dense(), b)
    out = np.full((n_users, n_cols), np.nan, dtype=np.float32)  # every cell must be written
    weights.product(x, out)
    np.testing.assert_allclose(out, x.toarray() @ b, rtol=1e-5, atol=1e-5)


def test_product_writes_through_a_column_map():
    rng = np.random.default_rng(1)
    b = rng.standard_normal((30, 7)).astype(np.float32)
    columns = np.array([0, 2, 3, 5, 8, 9, 11])
    x = _sparse_users(rng, 80, 30, 0.3)
    out = np.zeros((80, 12), dtype=np.float32)
    TiledWeights.from_dense(b, width=3).product(x, out, columns)
    expected = np.zeros_like(out)
    expected[:, columns] = x.toarray() @ b
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_refused():
    weights = TiledWeights.from_dense(np.ones((4, 5), np.float32), width=2)
    with pytest.raises(ValueError, match="columns"):
        weights.product(sp.csr_matrix(np.ones((2, 3), np.float32)), np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="cannot hold"):
        TiledWeights(weights.tiles, 9)
    with pytest.raises(ValueError, match="float32"):
        TiledWeights(weights.tiles.astype(np.float64), 5)


def test_tile_width_keeps_a_tile_near_the_cache_budget():
    assert tile_width(10_000, 10_000) == 192  # 10,000 rows x 192 float32 = 7.3 MB
    assert tile_width(100, 300) == 300  # a small matrix is one tile
    assert tile_width(10**7, 10) == 10


@pytest.mark.parametrize("max_items", [6, 4])
def test_ease_scores_equal_the_closed_form(tiny_data, max_items):
    """s = x B, B = I - P / diag(P), P = (X'X + l2 I)^-1, diag(B) = 0, over the kept items."""
    ease = EASEScorer(l2=1.0, transform="log", max_items=max_items).fit(tiny_data)
    x = implicit_matrix(tiny_data, "log").toarray().astype(np.float64)
    keep = ease.items_
    p = np.linalg.inv(x[:, keep].T @ x[:, keep] + np.eye(len(keep)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    expected = np.zeros((tiny_data.n_users, tiny_data.n_items))
    expected[:, keep] = x[:, keep] @ b
    np.testing.assert_allclose(ease.score(tiny_data, np.arange(tiny_data.n_users)), expected, rtol=1e-4, atol=1e-5)


def test_streamed_blend_equals_the_sum_of_its_parts(tiny_events, tiny_catalog, tiny_end, scorer_params, interest):
    ev = pd.concat([tiny_events, pd.DataFrame([("new", "", "search", tiny_end, "c1")], columns=tiny_events.columns)])
    features = build_item_features(tiny_catalog, interest)
    data = build_interactions(ev, tiny_catalog["item_id"], tiny_end).with_content(
        build_profiles(ev, features, interest, tiny_end), features
    )
    weights = {"content": 1.0, "ease": 0.5, "item_knn": 0.3, "association_rules": 0.2}
    settings_ = BlendSettings(weights=weights, params=scorer_params)
    blend = Blend.from_settings(settings_, interest).fit(data)
    rows = np.arange(data.n_users)
    names = list(blend.weights) + [blend.cold_start]
    parts = blend.components(data, rows, names)
    cold = blend.cold_rows(data, rows)
    expected = sum(np.float32(w) * parts[n] for n, w in blend.weights.items())
    cold_users = np.flatnonzero(cold)
    assert len(cold_users) == 1  # "new" only searched: the fallback path is exercised
    expected[cold_users] = parts[blend.cold_start][cold_users] + np.float32(1.0) * parts["content"][cold_users]
    np.testing.assert_allclose(blend.score(data, rows), expected, rtol=1e-6)
    np.testing.assert_allclose(blend.combine(parts, cold), expected, rtol=1e-6)  # a dict is not modified
    np.testing.assert_array_equal(parts["ease"], blend.component(data, rows, "ease"))


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 40), n_items=st.integers(1, 25), l2=st.floats(0.01, 500.0), seed=st.integers(0, 2**16))
def test_condition_bound_is_an_upper_bound(n_users, n_items, l2, seed):
    """The bound that decides float32 vs float64 for EASE's inverse never underestimates."""
    x = _sparse_users(np.random.default_rng(seed), n_users, n_items, 0.3).toarray().astype(np.float64) * 3
    xtx = x.T @ x
    assert condition_bound(xtx, l2) >= np.linalg.cond(xtx + l2 * np.eye(n_items)) * (1 - 1e-9)


def test_a_tiny_l2_inverts_in_float64(tiny_data):
    """l2 = 1e-3 on the tiny shop: the bound is far above the float32 limit, and the weights still
    match the float64 closed form."""
    x = implicit_matrix(tiny_data, "binary").toarray().astype(np.float64)
    assert condition_bound(x.T @ x, 1e-3) > FLOAT32_CONDITION_LIMIT
    gram = x.T @ x + 1e-3 * np.eye(tiny_data.n_items)
    ease = EASEScorer(l2=1e-3, transform="binary").fit(tiny_data)
    p = np.linalg.inv(gram)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    # float32 would be off by ~1e-4 here; float64 is off by float32 rounding of the stored weights only
    np.testing.assert_allclose(TiledWeights(ease.weights_, tiny_data.n_items).to_dense(), b, rtol=1e-6, atol=1e-6)
