"""Off-policy estimators of a target policy's CTR from logged feedback: IPW, SNIPW, DR.

With logged action a_i, reward r_i, logging propensity p_i, target probabilities pi(. | x_i)
over impression i's own candidates x_i (its decision's candidate set) and a reward model q(x, a):
    w_i   = pi(a_i | x_i) / p_i
    IPW   = mean(w_i r_i)                                  unbiased, high variance
    SNIPW = sum(w_i r_i) / sum(w_i)                        self-normalised: bounded, slightly biased
    DR    = mean(sum_a pi(a|x_i) q(x_i,a) + w_i (r_i - q(x_i,a_i)))   unbiased if p or q is right
    ESS   = (sum w)^2 / sum w^2                            how many logged rows the estimate is worth
95% intervals come from a Poisson bootstrap over decisions (percentile method): the impressions
of one decision show the same banner, so they are resampled together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

POOR_OVERLAP_ESS_SHARE = 0.05   # ESS below 5% of n: the estimate rests on a few heavy rows


@dataclass(frozen=True)
class Estimate:
    estimate: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class OPEResult:
    """What ``bannergen feedback evaluate`` prints.

    n: impressions used; unmatched: impressions that match no logged decision and no_propensity:
    those without a propensity (both left out); unsupported: mean target probability on candidates
    the logging policy never shows (probability 0), which no estimate here can see."""

    policy: str
    n: int
    ess: float
    ipw: Estimate
    snipw: Estimate
    dr: Estimate
    unmatched: int = 0
    no_propensity: int = 0
    unsupported: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict:
        return {"policy": self.policy, "n": self.n, "ess": self.ess, "ipw": self.ipw.as_dict(),
                "snipw": self.snipw.as_dict(), "dr": self.dr.as_dict(), "unmatched": self.unmatched,
                "no_propensity": self.no_propensity, "unsupported": self.unsupported, "warnings": list(self.warnings)}


def _point(w: np.ndarray, r: np.ndarray, direct: np.ndarray, q_a: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """IPW, SNIPW and DR for each bootstrap weight vector; weights (B, n) -> (3, B). A resample
    that drew no row at all (possible with few decisions) gives NaN, which the percentiles skip."""
    total = weights.sum(axis=1)
    wr = weights @ (w * r)
    with np.errstate(invalid="ignore", divide="ignore"):
        ipw = wr / total
        snipw = wr / (weights @ w)
        dr = weights @ (direct + w * (r - q_a)) / total
    return np.stack([ipw, snipw, dr])


def estimate(policy: str, action: np.ndarray, reward: np.ndarray, pscore: np.ndarray, target: np.ndarray,
             reward_model: np.ndarray, n_boot: int = 200, seed: int = 0,
             clusters: np.ndarray | None = None) -> OPEResult:
    """Estimate the target policy's mean reward.

    action int (n,), reward (n,), pscore (n,) (NaN = missing: those rows are dropped with a
    warning), target (n, k) probabilities, reward_model (n, k) predicted rewards; clusters int (n,):
    rows that share a cluster (impressions of one decision, which show the same banner) are
    resampled together by the bootstrap; None: every row on its own.
    """
    warnings: list[str] = []
    pscore = np.asarray(pscore, np.float64)
    missing = ~np.isfinite(pscore) | (pscore <= 0)
    if missing.any():
        warnings.append(f"{int(missing.sum())} of {len(pscore)} logged rows have no propensity; they are left out")
    keep = ~missing
    a, r, p = np.asarray(action)[keep], np.asarray(reward, np.float64)[keep], pscore[keep]
    groups = pd.factorize(np.asarray(clusters)[keep])[0] if clusters is not None else np.arange(len(a))
    pi, q = np.asarray(target, np.float64)[keep], np.asarray(reward_model, np.float64)[keep]
    n = len(a)
    nan = Estimate(float("nan"), float("nan"), float("nan"))
    if n == 0:
        warnings.append("no logged impressions with propensities: nothing to evaluate")
        return OPEResult(policy, 0, 0.0, nan, nan, nan, warnings=tuple(warnings))
    rows = np.arange(n)
    w = pi[rows, a] / p
    ess = float(w.sum() ** 2 / max((w ** 2).sum(), 1e-300))
    if ess < POOR_OVERLAP_ESS_SHARE * n:
        warnings.append(f"poor overlap: effective sample size {ess:.0f} of {n} rows "
                        f"(the target policy rarely agrees with the logged choices)")
    direct = (pi * q).sum(axis=1)
    q_a = q[rows, a]
    point = _point(w, r, direct, q_a, np.ones((1, n)))[:, 0]
    rng = np.random.default_rng(seed)
    boots = []
    g = int(groups.max()) + 1
    step = max(1, (1 << 23) // n)
    for lo in range(0, n_boot, step):
        b = min(step, n_boot - lo)
        # Poisson(1) counts per cluster: the bootstrap's resampling with replacement for large n,
        # without a multinomial over every cluster; each row weighs its cluster's count.
        weights = rng.poisson(1.0, size=(b, g)).astype(np.float64)[:, groups]
        boots.append(_point(w, r, direct, q_a, weights))
    boot = np.concatenate(boots, axis=1)
    lo_q, hi_q = np.nanpercentile(boot, [2.5, 97.5], axis=1)
    ests = [Estimate(float(point[i]), float(lo_q[i]), float(hi_q[i])) for i in range(3)]
    return OPEResult(policy, n, ess, ests[0], ests[1], ests[2], warnings=tuple(warnings))
