"""Bandit policies over Beta posteriors, frequency caps and holdout, off-policy evaluation, a simulator.

Kept apart as in zr-obp: policies (policies.py) choose and log propensities; the logged
feedback record (logged.py) comes from the store; estimators (ope.py) only see that record;
the simulator (simulator.py) produces logs with a known truth to test all of them.
"""

from bannergen.bandits.evaluate import POLICIES, evaluate_policy, policy_probabilities
from bannergen.bandits.guards import cap_mask, impressions_today, in_holdout
from bannergen.bandits.logged import LoggedFeedback, logged_feedback, logged_feedback_from_store
from bannergen.bandits.ope import Estimate, OPEResult, estimate
from bannergen.bandits.policies import (
    beta_parameters, choose_from, greedy_choose, greedy_probabilities, posterior_mean, softmax_choose,
    softmax_probabilities, thompson_choose, thompson_probabilities, uniform_choose, uniform_probabilities,
)
from bannergen.bandits.posterior import PosteriorCache
from bannergen.bandits.simulator import Simulator, SimResult

__all__ = [
    "POLICIES", "Estimate", "LoggedFeedback", "OPEResult", "PosteriorCache", "SimResult", "Simulator",
    "beta_parameters", "cap_mask", "choose_from", "estimate", "evaluate_policy", "greedy_choose",
    "greedy_probabilities", "impressions_today", "in_holdout", "logged_feedback", "logged_feedback_from_store",
    "policy_probabilities", "posterior_mean", "softmax_choose", "softmax_probabilities", "thompson_choose",
    "thompson_probabilities", "uniform_choose", "uniform_probabilities",
]
