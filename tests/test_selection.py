"""Candidates and the decision kernel: softmax, greedy and Thompson probabilities, seeded sampling,
the fixed banner (pin, holdout, default), per-category candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bannergen.selection.candidates import CategoryIndex, TemplateChoice, top_candidates
from bannergen.selection.kernel import (
    CandidateSet,
    DecisionPolicy,
    decide_all,
    keyed_uniforms,
    policy_probabilities,
    sample,
    softmax,
)

user_uniforms = keyed_uniforms


def test_softmax_matches_the_formula_and_ignores_minus_infinity():
    s = np.array([[1.0, 0.5, -np.inf], [-np.inf, -np.inf, -np.inf]])
    p = softmax(s, 0.5)
    e = np.exp(np.array([1.0, 0.5]) / 0.5)
    assert p[0, :2] == pytest.approx(e / e.sum())
    assert p[0, 2] == 0.0
    assert p[1].tolist() == [0.0, 0.0, 0.0]


def test_softmax_is_stable_for_large_scores():
    p = softmax(np.array([[1000.0, 999.0]]), 0.01)
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)


def test_uniforms_are_stable_and_seed_dependent():
    ids = pd.Index([f"u{i}" for i in range(1000)])
    a, b = user_uniforms(ids, 1), user_uniforms(ids, 1)
    assert (a == b).all()
    assert (a != user_uniforms(ids, 2)).mean() > 0.99
    assert a.min() >= 0.0 and a.max() < 1.0
    # the draw of a user does not depend on who else is in the batch
    assert user_uniforms(ids[500:], 1) == pytest.approx(a[500:])
    assert abs(a.mean() - 0.5) < 0.05


def test_sampling_follows_the_probabilities():
    n = 20000
    probs = np.tile([0.63, 0.37], (n, 1))
    picks = sample(probs, user_uniforms([f"user-{i}" for i in range(n)], 7))
    assert abs((picks == 0).mean() - 0.63) < 0.02


def candidate_set(scores: np.ndarray, fixed: list[str] | None = None) -> CandidateSet:
    """A CandidateSet over made-up banners: candidate j of every user is item j under template 0,
    the fixed column item 99."""
    n, k = scores.shape
    items = np.tile(np.arange(k + 1), (n, 1))
    items[:, -1] = 99
    items[:, :k][~np.isfinite(scores)] = -1
    full = np.concatenate([scores, np.full((n, 1), np.nan)], axis=1)
    ids = np.where(items >= 0, items.astype(str), "").astype(object)
    templates = np.where(items >= 0, 0, -1)
    return CandidateSet(np.asarray([f"u{i}" for i in range(n)], dtype=object), np.arange(n), items, templates,
                        np.full(items.shape, -1), full, ids, np.where(items >= 0, "t", "").astype(object),
                        np.full(items.shape, "", dtype=object), np.full(items.shape, "", dtype=object),
                        np.asarray(fixed or [""] * n, dtype=object))


def test_the_kernel_records_the_propensity_it_sampled_with():
    scores = np.array([[1.2, 1.1, -np.inf], [-np.inf, -np.inf, -np.inf], [0.5, 0.4, 0.3]])
    made = decide_all(candidate_set(scores, ["", "", "pin"]), DecisionPolicy("softmax", 0.1, seed=3))
    assert made.policy.tolist() == ["softmax", "default", "pin"]
    assert made.chosen[1] == 3 and made.chosen[2] == 3  # the fixed column: default and pin
    assert made.propensity.tolist()[1:] == [1.0, 1.0]
    assert made.propensity[0] == pytest.approx(softmax(scores[:1, :2], 0.1)[0, made.chosen[0]])
    np.testing.assert_allclose(made.probabilities.sum(axis=1), 1.0)
    greedy = decide_all(candidate_set(scores), DecisionPolicy("greedy", 0.1, seed=3))
    assert greedy.chosen.tolist() == [0, 3, 0] and greedy.propensity.tolist() == [1.0, 1.0, 1.0]


def test_thompson_probabilities_are_reproducible_and_independent_of_the_batch():
    rng = np.random.default_rng(0)
    scores = rng.normal(1.0, 0.3, (400, 6))
    clicks = rng.integers(0, 20, (400, 6))
    impressions = clicks + rng.integers(0, 400, (400, 6))
    policy = DecisionPolicy("thompson", prior_strength=20, exploration_floor=0.01, draws=64, seed=5)
    avail = np.ones(scores.shape, bool)
    avail[:, 5] = False  # e.g. capped
    p = policy_probabilities("thompson", scores, avail, clicks, impressions, policy)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p[:, 5] == 0).all() and (p[:, :5] >= 0.01 - 1e-12).all()  # the floor, only on what may be shown
    one = policy_probabilities("thompson", scores[7:8], avail[7:8], clicks[7:8], impressions[7:8], policy)
    np.testing.assert_allclose(one[0], p[7], atol=1e-12)  # a user's answer does not depend on the others
    again = policy_probabilities("thompson", scores, avail, clicks, impressions, policy)
    assert np.array_equal(again, p)


def test_thompson_favours_the_banner_whose_feedback_is_better():
    scores = np.zeros((1, 3))
    policy = DecisionPolicy("thompson", prior_ctr=0.05, prior_strength=20, exploration_floor=0.0, draws=512, seed=1)
    clicks, impressions = np.array([[5, 30, 0]]), np.array([[300, 300, 0]])
    p = policy_probabilities("thompson", scores, np.ones((1, 3), bool), clicks, impressions, policy)[0]
    assert p[1] > 0.6 and p[0] < 0.05 and 0.05 < p[2] < 0.4  # the unseen banner still gets explored


def test_chosen_banners_follow_the_probabilities_across_users():
    """Users with the same candidates are drawn independently (a uniform per user): the share that
    gets each banner matches its probability."""
    scores = np.tile([[1.0, 0.9, 0.7]], (20000, 1))
    made = decide_all(candidate_set(scores), DecisionPolicy("softmax", 0.2, seed=11))
    share = np.bincount(made.chosen, minlength=4)[:3] / len(scores)
    np.testing.assert_allclose(share, made.probabilities[0, :3], atol=0.015)


def test_one_candidate_per_category_best_first():
    # items 0,1 in category 0; items 2,3 in category 1; item 4 in category 2
    categories = CategoryIndex.build(np.array([0, 0, 1, 1, 2]))
    scores = np.array([[0.1, 0.9, 0.5, 0.4, -np.inf], [0.2, 0.1, 0.3, 0.8, 0.05]], dtype=np.float32)
    items, best = top_candidates(scores, categories, k=2)
    assert items.tolist() == [[1, 2], [3, 0]]
    assert best[0].tolist() == pytest.approx([0.9, 0.5])
    items3, best3 = top_candidates(scores, categories, k=3)
    assert items3[0, 2] == -1 and best3[0, 2] == -np.inf


def test_template_choice_prefers_priority_and_marks_items_without_template():
    suits = np.array([[True, True], [False, True], [False, False]])
    choice = TemplateChoice.build(suits, [0.0, 0.1])
    assert choice.template.tolist() == [1, 1, -1]
    assert choice.bonus[:2].tolist() == pytest.approx([0.1, 0.1])
    assert choice.bonus[2] == -np.inf
