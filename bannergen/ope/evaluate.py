"""``bannergen feedback evaluate``: a target policy's CTR estimated on the logged decisions.

The target is a reference policy of the decision kernel (``evaluate_policy``) or a file
(``evaluate_file``); either way it is a distribution over each impression's own candidates. The
DR reward model is a logistic regression on banner features (ope.reward_model).

    >>> logged = join_decisions(events, load_decision_log(out, behaviour), banners)  # doctest: +SKIP
    >>> evaluate_policy(logged, "greedy", DecisionPolicy()).snipw.estimate  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from bannergen.ope.estimators import OPEResult, estimate
from bannergen.ope.logged import LoggedDecisions
from bannergen.ope.reward_model import RewardModel
from bannergen.ope.targets import TargetFile, file_target, reference_target
from bannergen.selection.kernel import DecisionPolicy

log = logging.getLogger(__name__)


def unsupported_share(logged: LoggedDecisions, target: np.ndarray) -> float:
    """Mean target probability (over impressions) on candidates the logging policy gave
    probability 0: target (n, k)."""
    if logged.n == 0:
        return 0.0
    never = logged.listed[logged.decision] & ~(logged.logged[logged.decision] > 0)
    return float((target * never).sum(axis=1).mean())


def evaluate(logged: LoggedDecisions, name: str, target: np.ndarray, reward_model: np.ndarray,
             notes: tuple[str, ...] = (), n_boot: int = 200, seed: int = 0) -> OPEResult:
    """IPW, SNIPW and DR of ``target`` (n, k) with ``reward_model`` (n, k) on ``logged``, with the
    rows left out and the unsupported target mass as counts and warnings."""
    result = estimate(name, logged.action, logged.reward, logged.pscore, target, reward_model, n_boot=n_boot, seed=seed,
                      clusters=logged.decision)
    unsupported = unsupported_share(logged, target)
    warnings = list(result.warnings)
    if logged.unmatched:
        warnings.append(f"{logged.unmatched} impressions match no logged decision (no decision id, and no "
                        f"decision of the user before them lists their banner); they are left out")
    if logged.no_propensity:
        warnings.append(f"{logged.no_propensity} impressions have no propensity; they are left out")
    if unsupported > 0:
        warnings.append(f"the log cannot support {unsupported:.2%} of the target's mass (candidates the logging "
                        f"policy never shows); the estimates leave it out")
    warnings += notes
    for text in warnings:
        log.info("%s: %s", name, text)  # the result carries them; the CLI prints them once
    return OPEResult(result.policy, result.n, result.ess, result.ipw, result.snipw, result.dr, logged.unmatched,
                     logged.no_propensity, unsupported, tuple(warnings))


def evaluate_policy(logged: LoggedDecisions, name: str, policy: DecisionPolicy, items: pd.DataFrame | None = None,
                    n_boot: int = 200, seed: int = 0) -> OPEResult:
    """Estimate reference policy ``name`` (logged, uniform, softmax, greedy, thompson) with the
    settings of ``policy``; ``items`` (item_id, category, price_band) feed the reward model."""
    target = reference_target(logged, name, policy)
    if name == "logged":
        # The logging policy's probability of what it chose is the logged propensity itself: all weights are 1.
        target[np.arange(logged.n), logged.action] = logged.pscore
    q = RewardModel(random_state=seed).fit(logged, items).predict(logged)
    return evaluate(logged, name, target, q, n_boot=n_boot, seed=seed)


def evaluate_file(logged: LoggedDecisions, target: TargetFile, banners: pd.DataFrame,
                  items: pd.DataFrame | None = None, n_boot: int = 200, seed: int = 0) -> OPEResult:
    """Estimate the policy of a target file (ope.targets.read_target_file)."""
    found = file_target(logged, target, banners)
    notes = []
    if found.off_log > 0:
        notes.append(f"{target.path} puts {found.off_log:.2%} of its mass on variants the log never shows; "
                     f"each decision's target is renormalised over its own candidates")
    if found.no_mass:
        notes.append(f"{found.no_mass} impressions' decisions get no mass from {target.path}; "
                     f"they keep the logged banner")
    q = RewardModel(random_state=seed).fit(logged, items).predict(logged)
    return evaluate(logged, str(target.path.name), found.probabilities, q, tuple(notes), n_boot=n_boot, seed=seed)
