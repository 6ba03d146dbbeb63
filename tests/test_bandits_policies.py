"""Policies, caps, holdout, the simulator and off-policy estimators against known ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from bannergen.bandits import (
    PosteriorCache, Simulator, cap_mask, evaluate_policy, in_holdout, logged_feedback, policy_probabilities,
    thompson_choose, thompson_probabilities,
)
from bannergen.feedback import open_store

CTR = (0.02, 0.04, 0.06, 0.08, 0.12)


def test_thompson_regret_is_well_below_uniform_and_converges() -> None:
    sim = Simulator(CTR, seed=3)
    uniform = sim.run("uniform", 50_000)
    thompson = sim.run("thompson", 50_000, floor=0.002)
    assert thompson.regret[-1] < 0.2 * uniform.regret[-1]
    assert np.mean(thompson.chosen[-5_000:] == 4) > 0.9


@pytest.mark.parametrize("policy", ["uniform", "greedy", "thompson", "softmax"])
def test_each_estimator_lands_within_10_percent_of_the_true_value(policy: str) -> None:
    sim = Simulator(CTR, seed=7)
    logged = logged_feedback(sim.run("uniform", 60_000).events)
    clicks, imps = logged.counts()
    truth = sim.value(policy_probabilities(policy, clicks, imps, np.ones((1, 5), bool)))
    result = evaluate_policy(logged, policy, n_boot=100)
    for est in (result.ipw, result.snipw, result.dr):
        assert abs(est.estimate - truth) < 0.1 * truth
        assert est.ci_low <= est.estimate <= est.ci_high
    assert result.n == 60_000 and 0 < result.ess <= result.n


def test_thompson_propensity_matches_the_choice_frequencies_and_respects_the_floor() -> None:
    n, k = 20_000, 3
    prior = np.full((n, k), 0.05)
    clicks = np.tile([5.0, 8.0, 2.0], (n, 1))
    imps = np.full((n, k), 100.0)
    idx, prop = thompson_choose(prior, 2.0, clicks, imps, floor=0.05, seed=0)
    freq = np.bincount(idx, minlength=k) / n
    expected = thompson_probabilities(prior[:1], 2.0, clicks[:1], imps[:1], floor=0.05, seed=1)[0]
    assert np.allclose(freq, expected, atol=0.02)
    assert np.allclose(prop, expected[idx], atol=0.03) and prop.min() >= 0.05


def test_unavailable_candidates_are_never_chosen() -> None:
    prior = np.array([[0.1, np.nan, 0.1], [np.nan, np.nan, np.nan]])
    capped = cap_mask(np.array([[3, 0, 0], [0, 0, 0]]), cap=3)
    idx, prop = thompson_choose(prior, 2.0, np.zeros((2, 3)), np.zeros((2, 3)), 0.1, seed=0, available=capped)
    assert idx.tolist() == [2, -1] and prop[1] == 0.0


def test_holdout_is_stable_and_close_to_its_share() -> None:
    users = np.array([f"user{i}" for i in range(20_000)], dtype=object)
    a = in_holdout(users, 0.1, salt="s1")
    assert np.array_equal(a, in_holdout(users, 0.1, salt="s1"))
    assert abs(a.mean() - 0.1) < 0.01
    assert np.all(in_holdout(users, 0.2, salt="s1")[a])  # growing the share keeps everyone already in it


def test_a_click_updates_the_posterior_without_a_refit(tmp_path) -> None:
    sim = Simulator(CTR, seed=1)
    events = sim.run("uniform", 200).events
    with open_store(tmp_path / "s.sqlite") as store:
        cache = PosteriorCache().attach(store)
        clicks0, imps0 = cache.lookup("home", np.array([["v0", "v4"]], dtype=object))
        store.add(events)
        clicks1, imps1 = cache.lookup("home", np.array([["v0", "v4"]], dtype=object))
    counts = events[events["variant_id"].isin(["v0", "v4"])].groupby(["variant_id", "event"]).size()
    assert imps1.tolist() == [[counts["v0"]["impression"], counts["v4"]["impression"]]]
    assert clicks0.sum() == 0 and clicks1.sum() == counts.xs("click", level="event").sum()
