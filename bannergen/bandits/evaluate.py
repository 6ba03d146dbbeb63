"""``bannergen feedback evaluate``: candidate policies fitted on the logs, then estimated on them.

Each candidate policy sees, per placement, the variants logged there and Beta(1 + clicks,
1 + impressions - clicks) posteriors from the same logs:
    uniform   uniform among the placement's logged variants
    greedy    the highest posterior mean
    thompson  P(variant wins a posterior draw), with an exploration floor
    softmax   exp(mean / t) / sum exp(mean / t)
The reward model for DR is the posterior mean. Policies are context-free within a placement, so
their probabilities are computed once per placement and broadcast over its rows.
"""

from __future__ import annotations

import numpy as np

from bannergen.bandits.logged import LoggedFeedback
from bannergen.bandits.ope import UNSUPPORTED_MASS, OPEResult, estimate
from bannergen.bandits.policies import (
    greedy_probabilities, posterior_mean, softmax_probabilities, thompson_probabilities, uniform_probabilities,
)
from bannergen.errors import InputError

POLICIES = ("uniform", "greedy", "thompson", "softmax")


# Empirical-Bayes shrinkage: every variant starts at its placement's pooled CTR, worth this many
# impressions. A flat Beta(1, 1) would rate a variant with one lucky click at 0.67 and make
# greedy and the reward model chase it; pooled means keep thin variants near the average.
PRIOR_STRENGTH = 50.0


def pooled_prior(clicks: np.ndarray, impressions: np.ndarray, available: np.ndarray) -> np.ndarray:
    """(rows, k) prior mean: each row's (placement's) pooled CTR on its available variants."""
    c = np.where(available, clicks, 0).sum(axis=1)
    n = np.where(available, impressions, 0).sum(axis=1)
    pooled = np.clip((c + 1.0) / (n + 2.0), 1e-6, 1 - 1e-6)
    return np.where(available, pooled[:, None], np.nan)


def policy_probabilities(name: str, clicks: np.ndarray, impressions: np.ndarray, available: np.ndarray,
                         temperature: float = 0.02, floor: float = 0.0, seed: int = 0) -> np.ndarray:
    """(rows, k) probabilities of policy ``name`` from per-row counts (rows, k)."""
    if name == "uniform":
        return uniform_probabilities(available)
    prior = pooled_prior(clicks, impressions, available)
    means = posterior_mean(prior, PRIOR_STRENGTH, clicks, impressions)
    if name == "greedy":
        return greedy_probabilities(means, available)
    if name == "softmax":
        return softmax_probabilities(means, temperature, available)
    if name == "thompson":
        return thompson_probabilities(prior, PRIOR_STRENGTH, clicks, impressions, floor=floor, seed=seed,
                                      available=available)
    raise InputError(f"unknown policy '{name}'", hint=f"expected one of {', '.join(POLICIES)}")


def evaluate_policy(logged: LoggedFeedback, name: str, temperature: float = 0.02, floor: float = 0.0,
                    n_boot: int = 200, seed: int = 0) -> OPEResult:
    """IPW, SNIPW and DR estimates of policy ``name``'s CTR on ``logged``."""
    if name not in POLICIES:
        raise InputError(f"unknown policy '{name}'", hint=f"expected one of {', '.join(POLICIES)}")
    clicks, imps = logged.counts()
    k = logged.k
    avail_p = np.arange(k)[None, :] < np.array([len(v) for v in logged.variants], np.int64)[:, None]
    per_placement = policy_probabilities(name, clicks, imps, avail_p, temperature, floor, seed)
    model = np.where(avail_p, posterior_mean(pooled_prior(clicks, imps, avail_p), PRIOR_STRENGTH, clicks, imps), 0.0)
    target = per_placement[logged.placement]
    result = estimate(name, logged.action, logged.reward, logged.pscore, target, model[logged.placement],
                      n_boot=n_boot, seed=seed)
    unsupported = float((per_placement * (imps == 0)).sum(axis=1).max()) if len(imps) else 0.0
    if unsupported > UNSUPPORTED_MASS:
        extra = f"poor overlap: the policy puts {unsupported:.1%} of its choices on variants never logged"
        result = OPEResult(result.policy, result.n, result.ess, result.ipw, result.snipw, result.dr,
                           (*result.warnings, extra))
    return result
