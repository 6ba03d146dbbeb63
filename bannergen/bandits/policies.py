"""Choosing among k candidate variants per user, vectorized over users x candidates.

Every function takes arrays of shape (n, k) (users x candidates) and returns
(index (n,) int64, -1 when a row has no available candidate; propensity (n,) float64), the
probability the policy chose that index, for the logged-feedback record. ``*_probabilities``
return the whole distribution (n, k), for off-policy evaluation.

Beta posteriors: a candidate with prior mean m (the scorer's CTR estimate), prior strength s
(pseudo-impressions), c clicks and i impressions has CTR ~ Beta(m*s + c, (1-m)*s + i - c).

Thompson sampling with an exploration floor: with probability eps = min(floor * k_avail, 1) pick
uniformly among the available candidates, otherwise pick the argmax of one posterior draw. So
every available candidate has probability >= floor (what IPW needs: bounded weights), and
    P(j) = eps / k_avail + (1 - eps) * P_TS(j),
where P_TS(j), the chance that j wins a posterior draw, has no closed form for k > 2 and is
estimated by ``draws`` Monte Carlo draws plus the decision's own draw (so the chosen arm never
gets an estimate of 0): P_TS(j) ~ (wins_j + [j chosen by the draw]) / (draws + 1). Rows with the
same posterior (e.g. all users of one placement) share one estimate.
"""

from __future__ import annotations

import numpy as np

from bannergen.selection.policy import sample as _sample
from bannergen.selection.policy import softmax as _softmax

_CHUNK = 1 << 22  # elements of the (rows, k, draws) sample block kept in memory at once


def beta_parameters(prior_mean: np.ndarray, prior_strength: float, clicks: np.ndarray,
                    impressions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta), each (n, k). prior_mean is clipped into (0, 1); clicks are capped at impressions."""
    m = np.clip(np.asarray(prior_mean, np.float64), 1e-6, 1 - 1e-6)
    c = np.asarray(clicks, np.float64)
    i = np.maximum(np.asarray(impressions, np.float64), c)
    return m * prior_strength + c, (1 - m) * prior_strength + (i - c)


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _available(prior_mean: np.ndarray, available: np.ndarray | None) -> np.ndarray:
    ok = np.isfinite(prior_mean)
    return ok if available is None else ok & np.asarray(available, bool)


def _floor_mix(p_ts: np.ndarray, avail: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    k_avail = avail.sum(axis=1)
    eps = np.minimum(floor * k_avail, 1.0)
    uniform = np.divide(avail, k_avail[:, None], out=np.zeros(avail.shape), where=k_avail[:, None] > 0)
    return eps[:, None] * uniform + (1 - eps[:, None]) * p_ts, eps


def _ts_win_rates(alpha: np.ndarray, beta: np.ndarray, avail: np.ndarray, draws: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Monte Carlo P(candidate wins a posterior draw), (n, k), computed once per distinct row."""
    n, k = alpha.shape
    key = np.concatenate([np.where(avail, alpha, -1.0), np.where(avail, beta, -1.0)], axis=1)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    a_u, b_u = uniq[:, :k], uniq[:, k:]
    ok_u = a_u > 0
    wins = np.zeros(a_u.shape)
    step = max(1, _CHUNK // max(1, k * draws))
    for lo in range(0, len(uniq), step):
        a = np.where(ok_u[lo:lo + step], a_u[lo:lo + step], 1.0)[:, :, None]
        b = np.where(ok_u[lo:lo + step], b_u[lo:lo + step], 1.0)[:, :, None]
        x = rng.beta(a, b, size=(a.shape[0], k, draws))
        x[~ok_u[lo:lo + step]] = -np.inf
        best = x.argmax(axis=1)  # (rows, draws)
        wins[lo:lo + step] = (best[:, None, :] == np.arange(k)[None, :, None]).sum(axis=2)
    return wins[inverse]


def thompson_choose(prior_mean: np.ndarray, prior_strength: float, clicks: np.ndarray, impressions: np.ndarray,
                    floor: float = 0.0, seed: int | np.random.Generator | None = None,
                    available: np.ndarray | None = None, draws: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Thompson sampling over Beta posteriors with an exploration floor (see the module docstring).

    prior_mean, clicks, impressions: (n, k); NaN prior_mean or False in ``available`` (n, k)
    marks a candidate that may not be shown (frequency cap, out of stock). floor: minimum
    probability per available candidate, 0 <= floor; floor * k >= 1 means uniform.
    Returns (index (n,), propensity (n,)).

    >>> idx, p = thompson_choose(np.full((2, 3), 0.05), 20.0, np.zeros((2, 3)), np.zeros((2, 3)), 0.01, seed=1)
    """
    rng = _rng(seed)
    prior_mean = np.asarray(prior_mean, np.float64)
    n, k = prior_mean.shape
    avail = _available(prior_mean, available)
    alpha, beta = beta_parameters(np.where(avail, prior_mean, 0.5), prior_strength, clicks, impressions)
    decision_draw = np.where(avail, rng.beta(alpha, beta), -np.inf)
    ts_pick = decision_draw.argmax(axis=1)
    wins = _ts_win_rates(alpha, beta, avail, draws, rng)
    rows = np.arange(n)
    wins[rows, ts_pick] += 1
    probs, eps = _floor_mix(wins / (draws + 1), avail, floor)
    has_any = avail.any(axis=1)
    explore = rng.random(n) < eps
    uniform_pick = _sample(avail.astype(np.float64), rng.random(n))
    index = np.where(has_any, np.where(explore, uniform_pick, ts_pick), -1)
    propensity = np.where(has_any, probs[rows, np.maximum(index, 0)], 0.0)
    return index.astype(np.int64), propensity


def thompson_probabilities(prior_mean: np.ndarray, prior_strength: float, clicks: np.ndarray,
                           impressions: np.ndarray, floor: float = 0.0, seed: int | None = None,
                           available: np.ndarray | None = None, draws: int = 4096) -> np.ndarray:
    """The Thompson policy's distribution over candidates, (n, k), by Monte Carlo."""
    prior_mean = np.asarray(prior_mean, np.float64)
    avail = _available(prior_mean, available)
    alpha, beta = beta_parameters(np.where(avail, prior_mean, 0.5), prior_strength, clicks, impressions)
    p_ts = _ts_win_rates(alpha, beta, avail, draws, _rng(seed)) / draws
    return _floor_mix(p_ts, avail, floor)[0]


def posterior_mean(prior_mean: np.ndarray, prior_strength: float, clicks: np.ndarray,
                   impressions: np.ndarray) -> np.ndarray:
    """E[CTR] under the Beta posterior, (n, k); NaN where prior_mean is NaN."""
    alpha, beta = beta_parameters(prior_mean, prior_strength, clicks, impressions)
    return np.where(np.isfinite(prior_mean), alpha / (alpha + beta), np.nan)


def greedy_probabilities(means: np.ndarray, available: np.ndarray | None = None) -> np.ndarray:
    """One-hot on the highest mean (first on ties), (n, k); all zeros for rows with nothing available."""
    means = np.asarray(means, np.float64)
    avail = _available(means, available)
    best = np.where(avail, means, -np.inf).argmax(axis=1)
    out = np.zeros(means.shape)
    out[np.arange(len(means)), best] = 1.0
    return out * avail.any(axis=1)[:, None]


def softmax_probabilities(scores: np.ndarray, temperature: float, available: np.ndarray | None = None) -> np.ndarray:
    """exp(s/t) / sum exp(s/t) over available candidates, (n, k) (the design article's policy)."""
    scores = np.asarray(scores, np.float64)
    return _softmax(np.where(_available(scores, available), scores, -np.inf), temperature)


def uniform_probabilities(available: np.ndarray) -> np.ndarray:
    """1 / k_avail on each available candidate, (n, k)."""
    avail = np.asarray(available, bool)
    return _floor_mix(np.zeros(avail.shape), avail, 1.0)[0]


def choose_from(probabilities: np.ndarray, seed: int | np.random.Generator | None = None,
                uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample one index per row of ``probabilities`` (n, k); returns (index (n,), propensity (n,)).
    Pass ``uniforms`` (n,) (e.g. a stable hash of the user id) for reproducible per-user draws."""
    probabilities = np.asarray(probabilities, np.float64)
    u = _rng(seed).random(len(probabilities)) if uniforms is None else np.asarray(uniforms, np.float64)
    index = _sample(probabilities, u)
    prop = np.where(index >= 0, probabilities[np.arange(len(index)), np.maximum(index, 0)], 0.0)
    return index.astype(np.int64), prop


def greedy_choose(means: np.ndarray, available: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Highest posterior mean per row; propensity 1."""
    return choose_from(greedy_probabilities(means, available), uniforms=np.full(len(means), 0.5))


def softmax_choose(scores: np.ndarray, temperature: float, seed: int | np.random.Generator | None = None,
                   available: np.ndarray | None = None,
                   uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sample from the softmax of ``scores`` (n, k) at ``temperature``."""
    return choose_from(softmax_probabilities(scores, temperature, available), seed, uniforms)


def uniform_choose(available: np.ndarray, seed: int | np.random.Generator | None = None,
                   uniforms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Uniform among available candidates; propensity 1 / k_avail."""
    return choose_from(uniform_probabilities(available), seed, uniforms)
