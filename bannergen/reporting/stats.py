"""Interval and test statistics for proportions, vectorized over groups (arrays of shape (g,))."""

from __future__ import annotations

import numpy as np
from scipy import stats as _stats

Z95 = 1.959963984540054


def wilson_interval(successes: np.ndarray, trials: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval (low, high) per group; NaN where trials == 0."""
    s = np.asarray(successes, np.float64)
    n = np.asarray(trials, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval always holds the observed rate: at 0 or n successes rounding alone would put a
    # bound a hair on the wrong side of it (3e-18 above a CTR of 0).
    low = np.clip(np.minimum(centre - half, p), 0, 1)
    high = np.clip(np.maximum(centre + half, p), 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def two_proportion_pvalue(c1: np.ndarray, n1: np.ndarray, c0: np.ndarray | float, n0: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of the pooled two-proportion z-test (group vs control); NaN when undefined."""
    c1, n1, c0, n0 = (np.asarray(x, np.float64) for x in (c1, n1, c0, n0))
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = (c1 + c0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = (c1 / n1 - c0 / n0) / se
        p = 2 * _stats.norm.sf(np.abs(z))
    return np.where((n1 > 0) & (n0 > 0) & (se > 0), p, np.nan)


def prob_beat_control(c1: np.ndarray, n1: np.ndarray, c0: np.ndarray | float, n0: np.ndarray | float,
                      draws: int = 20_000, seed: int = 0) -> np.ndarray:
    """P(CTR_group > CTR_control) under Beta(1 + c, 1 + n - c) posteriors, by Monte Carlo
    (``draws`` per group: standard error <= 0.004). NaN where either side has no impressions."""
    c1, n1 = np.asarray(c1, np.float64), np.asarray(n1, np.float64)
    c0 = np.broadcast_to(np.asarray(c0, np.float64), c1.shape)
    n0 = np.broadcast_to(np.asarray(n0, np.float64), c1.shape)
    rng = np.random.default_rng(seed)
    out = np.full(c1.shape, np.nan)
    ok = (n1 > 0) & (n0 > 0)
    idx = np.flatnonzero(ok)
    step = max(1, (1 << 22) // draws)
    for lo in range(0, len(idx), step):
        j = idx[lo:lo + step]
        x1 = rng.beta(1 + c1[j, None], 1 + n1[j, None] - c1[j, None], size=(len(j), draws))
        x0 = rng.beta(1 + c0[j, None], 1 + n0[j, None] - c0[j, None], size=(len(j), draws))
        out[j] = (x1 > x0).mean(axis=1)
    return out
