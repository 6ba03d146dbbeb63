"""The decision kernel's policies as evaluation and simulation use them: Thompson's propensities
and floor, masked candidates, reference policies over candidate sets, the holdout."""

from __future__ import annotations

import numpy as np
import pytest

from bannergen.ope.targets import reference_probabilities
from bannergen.selection.candidate_set import in_holdout
from bannergen.selection.kernel import DecisionPolicy, keyed_uniforms, policy_probabilities, sample

THOMPSON = DecisionPolicy("thompson", prior_ctr=0.05, prior_strength=2.0, exploration_floor=0.05, draws=4096, seed=1)


def test_thompson_choice_frequencies_match_its_probabilities_and_respect_the_floor() -> None:
    n, k = 20_000, 3
    scores = np.zeros((n, k))
    clicks = np.tile([5.0, 8.0, 2.0], (n, 1))
    imps = np.full((n, k), 100.0)
    probs = policy_probabilities("thompson", scores, np.ones((n, k), bool), clicks, imps, THOMPSON)
    chosen = sample(probs, keyed_uniforms(np.char.add("u", np.arange(n).astype(str)).astype(object), 3))
    assert np.allclose(np.bincount(chosen, minlength=k) / n, probs[0], atol=0.015)
    assert probs.min() >= 0.05 and np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0, 1] > probs[0, 0] > probs[0, 2]  # 8% beats 5% beats 2%


def test_unavailable_candidates_are_never_chosen() -> None:
    scores = np.array([[1.0, 2.0, 0.5], [1.0, 1.0, 1.0]])
    available = np.array([[True, False, True], [False, False, False]])
    for name in ("softmax", "greedy", "thompson", "uniform"):
        probs = policy_probabilities(name, scores, available, np.zeros((2, 3)), np.zeros((2, 3)), THOMPSON)
        assert probs[0, 1] == 0 and probs[1].sum() == 0
        assert sample(probs, np.array([0.99, 0.5])).tolist()[1] == -1


@pytest.mark.parametrize("name, expected", [
    ("uniform", [0.5, 0.5, 0.0]), ("greedy", [1.0, 0.0, 0.0]), ("logged", [0.9, 0.1, 0.0]),
])
def test_reference_policies_spread_over_listed_candidates_and_keep_fixed_decisions(name: str, expected: list) -> None:
    scores = np.array([[2.0, 1.0, np.nan], [np.nan, np.nan, np.nan]])
    listed = np.array([[True, True, False], [True, False, False]])
    logged = np.array([[0.9, 0.1, 0.0], [1.0, 0.0, 0.0]])
    fixed = np.array([False, True])
    zeros = np.zeros((2, 3))
    probs = reference_probabilities(name, scores, listed, logged, fixed, zeros, zeros, DecisionPolicy())
    assert probs[0].tolist() == expected
    assert probs[1].tolist() == [1.0, 0.0, 0.0]  # a holdout's default banner stays


def test_holdout_is_stable_and_close_to_its_share() -> None:
    users = np.array([f"user{i}" for i in range(20_000)], dtype=object)
    a = in_holdout(users, 0.1, salt="s1")
    assert np.array_equal(a, in_holdout(users, 0.1, salt="s1"))
    assert abs(a.mean() - 0.1) < 0.01
    assert np.all(in_holdout(users, 0.2, salt="s1")[a])  # growing the share keeps everyone already in it
