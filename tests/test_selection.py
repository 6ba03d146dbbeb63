"""Candidates and policies: softmax probabilities, seeded sampling, greedy, per-category candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bannergen.selection.candidates import CategoryIndex, TemplateChoice, top_candidates
from bannergen.selection.policy import choose, sample, softmax, user_uniforms


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
    assert 0.0 <= a.min() and a.max() < 1.0
    # the draw of a user does not depend on who else is in the batch
    assert user_uniforms(ids[500:], 1) == pytest.approx(a[500:])
    assert abs(a.mean() - 0.5) < 0.05


def test_sampling_follows_the_probabilities():
    n = 20000
    probs = np.tile([0.63, 0.37], (n, 1))
    picks = sample(probs, user_uniforms([f"user-{i}" for i in range(n)], 7))
    assert abs((picks == 0).mean() - 0.63) < 0.02


def test_choose_records_the_propensity_it_sampled_with():
    scores = np.array([[1.2, 1.1, -np.inf], [-np.inf, -np.inf, -np.inf]], dtype=np.float32)
    index, propensity, probs = choose(scores, ["a", "b"], "softmax", 0.1, seed=3)
    assert index[1] == -1 and propensity[1] == 0.0
    assert propensity[0] == pytest.approx(probs[0, index[0]])
    g_index, g_prop, _ = choose(scores, ["a", "b"], "greedy", 0.1, seed=3)
    assert g_index.tolist() == [0, -1] and g_prop.tolist() == [1.0, 0.0]


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
