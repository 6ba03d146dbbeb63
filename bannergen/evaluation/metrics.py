"""Top-K ranking metrics per user, and paired bootstrap intervals for ratios of their means.

For a user with held-out item set T and top-K list L (binary relevance):
    HR@K        1 if L and T share an item
    precision@K |L & T| / K
    recall@K    |L & T| / |T|
    NDCG@K      sum_{r: L_r in T} 1 / log2(r + 1)  /  sum_{r=1..min(K, |T|)} 1 / log2(r + 1)
Catalog coverage is |union of all L| / n_items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class UserMetrics:
    """Per-user metric arrays, shape (n_users,), and the distinct items recommended."""

    hr: np.ndarray
    ndcg: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    items: np.ndarray  # distinct recommended item positions

    def summary(self, n_items: int) -> dict[str, float]:
        return {
            "hr": float(self.hr.mean()) if len(self.hr) else 0.0,
            "ndcg": float(self.ndcg.mean()) if len(self.ndcg) else 0.0,
            "precision": float(self.precision.mean()) if len(self.precision) else 0.0,
            "recall": float(self.recall.mean()) if len(self.recall) else 0.0,
            "coverage": float(len(self.items) / n_items) if n_items else 0.0,
        }


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the k best items per row, best first: (n_rows, k). ``exclude`` (n_rows, n_items)
    marks items that may not be ranked (set to -inf first). Ties break toward the lower index."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None and exclude.nnz:
        ex = exclude.tocoo()
        scores[ex.row, ex.col] = -np.inf
    k = min(k, scores.shape[1])
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k]
        if k < scores.shape[1]
        else np.tile(np.arange(scores.shape[1]), (len(scores), 1))
    )
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def rank_metrics(top: np.ndarray, targets: sp.csr_matrix, k: int) -> UserMetrics:
    """Metrics of top-k lists ``top`` (n_users, k) against binary ``targets`` (n_users, n_items)."""
    n = len(top)
    t = targets.tocsr()
    hits = np.asarray(t[np.repeat(np.arange(n), top.shape[1]), top.ravel()]).reshape(top.shape) > 0
    discount = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (hits * discount).sum(axis=1)
    n_true = np.diff(t.indptr)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = ideal[np.clip(np.minimum(n_true, k) - 1, 0, k - 1)]
    n_hits = hits.sum(axis=1)
    return UserMetrics(
        hr=(n_hits > 0).astype(np.float64),
        ndcg=np.where(n_true > 0, dcg / idcg, 0.0),
        precision=n_hits / float(k),
        recall=np.divide(n_hits, n_true, out=np.zeros(n, dtype=np.float64), where=n_true > 0),
        items=np.unique(top[top >= 0]),
    )


def bootstrap_ratio(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0,
                    level: float = 0.95) -> tuple[float, float, float]:
    """mean(a) / mean(b) with a paired bootstrap interval over users: (ratio, low, high)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ratio = a.mean() / b.mean() if b.mean() > 0 else float("inf")
    if len(a) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(a), size=(n_boot, len(a)))
    ma, mb = a[idx].mean(axis=1), b[idx].mean(axis=1)
    ratios = np.divide(ma, mb, out=np.full(n_boot, np.inf), where=mb > 0)
    with np.errstate(invalid="ignore"):  # an infinite ratio (baseline mean 0) sorts last
        lo, hi = np.quantile(ratios, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(ratio), float(lo), float(hi)
