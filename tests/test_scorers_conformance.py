"""One conformance suite for every scorer, on a tiny shop whose right answer is obvious.

The shop (the tiny_* fixtures of conftest.py) has two clusters of items: {A, B, C} are bought
together, {D, E} are bought together, F is bought by everyone (popular). User "ab" bought A and
B, so C is the item a recommender should add; user "d" bought D, so E should come before A, B, C.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bannergen.model import build_model
from bannergen.scorers.base import build_interactions
from bannergen.scorers.blend import SCORERS, Blend, make_scorer
from bannergen.scorers.settings import BlendSettings, ScoringSettings, SelectionSettings
from bannergen.scorers.store import FORMAT_VERSION, StaleModelError, load_blend, save_blend

ITEMS = list("ABCDEF")  # the tiny shop of conftest.py, in catalog order
LEARNERS = ["item_knn", "svd", "ease", "association_rules"]


@pytest.fixture
def scorer(interest, scorer_params):
    """name -> a new scorer with the tiny shop's hyperparameters."""
    return lambda name: make_scorer(name, scorer_params.get(name), interest)


@pytest.mark.parametrize("name", list(SCORERS))
def test_shape_dtype_and_fit_returns_self(scorer, tiny_data, name):
    s = scorer(name)
    assert s.fit(tiny_data) is s
    assert s.is_fitted()
    out = s.score(tiny_data, np.arange(tiny_data.n_users))
    assert out.shape == (tiny_data.n_users, tiny_data.n_items) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert s.score(tiny_data, np.asarray([], dtype=np.int64)).shape == (0, tiny_data.n_items)


@pytest.mark.parametrize("name", list(SCORERS))
def test_same_random_state_same_result(scorer, tiny_data, name):
    a = scorer(name).fit(tiny_data).score(tiny_data, np.arange(tiny_data.n_users))
    b = scorer(name).fit(tiny_data).score(tiny_data, np.arange(tiny_data.n_users))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(SCORERS))
def test_hyperparameters_only_in_init_fitted_state_ends_in_underscore(scorer, name):
    s = scorer(name)
    assert not s.is_fitted()
    assert all(hasattr(s, p) for p in type(s)._param_names())


@pytest.mark.parametrize("name", LEARNERS)
def test_completes_the_cluster(scorer, tiny_data, name):
    s = scorer(name).fit(tiny_data)
    ab, d = tiny_data.user_ids.get_indexer(["ab", "d"])
    out = s.score(tiny_data, np.asarray([ab, d]))
    col = {i: k for k, i in enumerate(ITEMS)}
    # "ab" should get C above the other cluster's items; "d" should get E above A, B, C
    assert out[0, col["C"]] > max(out[0, col["D"]], out[0, col["E"]]), out[0]
    assert out[1, col["E"]] > max(out[1, col["A"]], out[1, col["B"]], out[1, col["C"]]), out[1]


def test_popularity_ranks_the_item_everyone_bought_first(scorer, tiny_data):
    out = scorer("popularity").fit(tiny_data).score(tiny_data, np.arange(2))
    assert ITEMS[int(out[0].argmax())] == "F" and (out[0] == out[1]).all()


def test_history_scores_only_what_the_user_bought(scorer, tiny_data):
    ab = tiny_data.user_ids.get_indexer(["ab"])
    out = scorer("history").fit(tiny_data).score(tiny_data, ab)[0]
    assert set(np.flatnonzero(out > 0)) == {0, 1} and out[0] > out[1]  # A bought twice


@pytest.mark.parametrize("name", LEARNERS + ["popularity", "popularity_recent", "popularity_now", "history", "title"])
def test_save_and_load_give_the_same_scores(scorer, interest, tiny_data, tmp_path, name):
    blend = Blend({name: scorer(name)}, {name: 1.0}, cold_start=name).fit(tiny_data)
    save_blend(blend, tmp_path, "fp1")
    again = load_blend(tmp_path, "fp1", interest)
    rows = np.arange(tiny_data.n_users)
    np.testing.assert_array_equal(blend.score(tiny_data, rows), again.score(tiny_data, rows))
    with pytest.raises(StaleModelError, match="fitted on other data or settings"):
        load_blend(tmp_path, "fp2", interest)
    assert not list(tmp_path.glob("*.pkl"))


def test_a_model_saved_by_another_format_version_is_refused(scorer, interest, tiny_data, tmp_path):
    """Format 1 stored EASE's weights as one matrix; format 2 as column tiles. An old folder is
    refused with a message that says to refit, never read as the wrong layout."""
    save_blend(Blend({"ease": scorer("ease")}, {"ease": 1.0}, cold_start="ease").fit(tiny_data), tmp_path, "fp1")
    meta = tmp_path / "model.json"
    doc = json.loads(meta.read_text(encoding="utf-8"))
    doc["format_version"] = 1
    meta.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(StaleModelError, match=rf"model format 1, this bannergen reads {FORMAT_VERSION}") as error:
        load_blend(tmp_path, "fp1", interest)
    assert "bannergen fit" in str(error.value.hint)


def test_a_model_saved_under_the_old_scorer_name_is_refitted(interest, tiny_catalog, tiny_events, tiny_end,
                                                           scorer_params, tmp_path):
    """Format 2 named the association-rules scorer "rules". Such a model is refused as stale, with the
    format message, and the run refits and saves the blend under the settings' names."""
    blend = BlendSettings(weights={"content": 1.0, "association_rules": 0.2}, params=scorer_params)
    settings = ScoringSettings(weights=interest, selection=SelectionSettings(), blend=blend)

    def run():
        return build_model(tiny_catalog, tiny_events, settings, [], as_of=str(tiny_end), models=tmp_path,
                           fingerprint="fp1")

    names = set(run().blend.scorers)
    assert "association_rules" in names and "rules" not in names
    meta = tmp_path / "model.json"
    doc = json.loads(meta.read_text(encoding="utf-8"))
    doc["format_version"] = 2
    doc["scorers"]["rules"] = doc["scorers"].pop("association_rules")
    doc["weights"]["rules"] = doc["weights"].pop("association_rules")
    meta.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(StaleModelError, match=rf"model format 2, this bannergen reads {FORMAT_VERSION}"):
        load_blend(tmp_path, "fp1", interest)
    assert set(run().blend.scorers) == names
    again = json.loads(meta.read_text(encoding="utf-8"))
    assert again["format_version"] == FORMAT_VERSION and set(again["scorers"]) == names


def test_blend_contributions_sum_to_the_score(scorer_params, interest, tiny_data):
    settings = BlendSettings(weights={"content": 1.0, "ease": 0.5, "item_knn": 0.3, "association_rules": 0.2}, params=scorer_params)
    blend = Blend.from_settings(settings, interest).fit(tiny_data)
    rows = np.arange(tiny_data.n_users)
    scores = blend.score(tiny_data, rows)
    items = scores.argmax(axis=1)
    parts = blend.contributions(tiny_data, rows, items)
    np.testing.assert_allclose(sum(parts.values()), scores[rows, items], rtol=1e-5, atol=1e-6)


def test_cold_start_users_get_recent_popularity(tiny_events, tiny_catalog, tiny_end, scorer_params):
    ev = pd.concat([tiny_events, pd.DataFrame([("new", "", "search", tiny_end, "c1")], columns=tiny_events.columns)])
    d = build_interactions(ev, tiny_catalog["item_id"], tiny_end)
    blend = Blend.from_settings(BlendSettings(weights={"ease": 1.0}, params=scorer_params), None).fit(d)
    row = d.user_ids.get_indexer(["new"])
    out = blend.score(d, row)[0]
    assert ITEMS[int(out.argmax())] == "F"


def test_title_scorer_finds_items_whose_titles_share_words(scorer, tiny_events, tiny_catalog, tiny_end):
    """Titles: A, B, C are "red heart ..." and D, E "blue star ...": "d" (bought D) gets E first."""
    titles = ["red heart mug", "red heart bag", "red heart tin", "blue star lamp", "blue star lamp large", "plain box"]
    ev = tiny_events
    d = build_interactions(ev, tiny_catalog["item_id"], tiny_end, titles=titles)
    s = scorer("title").fit(d)
    ab, dd = d.user_ids.get_indexer(["ab", "d"])
    out = s.score(d, np.asarray([ab, dd]))
    col = {i: k for k, i in enumerate(ITEMS)}
    assert out[0, col["C"]] > max(out[0, col["D"]], out[0, col["E"]], out[0, col["F"]]), out[0]
    assert out[1, col["E"]] > max(out[1, col["A"]], out[1, col["B"]], out[1, col["C"]]), out[1]
    np.testing.assert_array_equal(out, scorer("title").fit(d).score(d, np.asarray([ab, dd])))


def test_recency_decay_favours_recent_purchases(tiny_events, tiny_catalog, tiny_end):
    """EASE with a user half-life weights "ab"'s items by recency; popularity_now counts only the
    last days (the tiny shop's F was bought 3 days before the end by everyone)."""
    ev = tiny_events
    d = build_interactions(ev, tiny_catalog["item_id"], tiny_end)
    plain = make_scorer("ease", {"l2": 1.0}).fit(d)
    decayed = make_scorer("ease", {"l2": 1.0, "half_life_days": 2.0, "user_half_life_days": 1.0}).fit(d)
    rows = np.arange(d.n_users)
    assert np.isfinite(decayed.score(d, rows)).all() and not np.array_equal(
        plain.score(d, rows), decayed.score(d, rows)
    )
    now = make_scorer("popularity_now", {"days": 3}).fit(d).score(d, rows[:1])[0]
    assert ITEMS[int(now.argmax())] == "F"
