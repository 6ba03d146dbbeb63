"""Policies that pick one candidate per user and report the probability they picked it with.

softmax (design article, section 4.1.3): P(A | U_i, C_j) = exp(s_j / t) / sum_k exp(s_k / t), sampled
with a uniform drawn from a hash of (seed, user id): the same seed gives the same assignment in any
process, whatever the batch or --limit, and each draw is independent of the others.
greedy: always the top candidate, propensity 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (n, k); -inf entries get probability 0.
    A row with no finite score gets all zeros."""
    finite = np.isfinite(scores)
    top = np.where(finite.any(axis=1), np.where(finite, scores, -np.inf).max(axis=1), 0.0)
    z = np.where(finite, np.exp((np.where(finite, scores, 0.0) - top[:, None]) / temperature), 0.0)
    total = z.sum(axis=1, keepdims=True)
    return np.divide(z, total, out=np.zeros_like(z), where=total > 0)


def user_uniforms(user_ids: np.ndarray | pd.Index, seed: int, salt: str = "select") -> np.ndarray:
    """A uniform in [0, 1) per user from a keyed hash of the user id: stable across processes."""
    key = f"{seed:x}{salt}".encode()[:16].ljust(16, b"0").decode()
    hashed = pd.util.hash_array(np.asarray(user_ids, dtype=object), hash_key=key, categorize=False)
    return (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sample(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Index of the candidate whose cumulative probability first exceeds the uniform; -1 for empty rows."""
    cumulative = np.cumsum(probabilities, axis=1)
    has_any = cumulative[:, -1] > 0 if cumulative.shape[1] else np.zeros(len(cumulative), bool)
    # Scale u by the row total so rounding (a total of 0.9999999) can never pick past the end.
    pick = (cumulative > (uniforms * np.where(has_any, cumulative[:, -1], 1.0))[:, None]).argmax(axis=1)
    return np.where(has_any, pick, -1)


def choose(
    scores: np.ndarray, user_ids: np.ndarray | pd.Index, policy: str, temperature: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick a candidate per row of ``scores`` (n, k).

    Returns (index (n,) int, -1 when a user has no candidate; propensity (n,); probabilities (n, k)).
    """
    probs = softmax(scores, temperature)
    if policy == "greedy":
        has_any = np.isfinite(scores).any(axis=1)
        index = np.where(has_any, np.where(np.isfinite(scores), scores, -np.inf).argmax(axis=1), -1)
        propensity = has_any.astype(np.float64)
    else:
        index = sample(probs, user_uniforms(user_ids, seed))
        propensity = np.where(index >= 0, probs[np.arange(len(index)), np.maximum(index, 0)], 0.0)
    return index, propensity, probs
