"""The association-rule scorer: rules mined from the shop's baskets; a user's recent items fire
rules whose antecedent they hold, and each consequent gets the best fired rule's confidence
(or lift). Rules are kept as arrays (the rule table), so they save to .npz and explain a score:
"买了 A 的人 62% 也买了 B, lift 3.1".

Single-item antecedents (``max_len=2``, the default) are counted exactly with one sparse product,
identical to mlxtend's numbers (a test checks this) and much faster; longer rules go through
``mine_rules`` (mlxtend FP-growth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.association.baskets import BasketSet
from bannergen.association.mining import mine_rules
from bannergen.scorers.base import Interactions, Scorer, check_rows


@dataclass(frozen=True)
class FiredRule:
    antecedent: tuple[int, ...]  # item positions
    consequent: int
    confidence: float
    lift: float
    support: float


def pair_rules(matrix: sp.csr_matrix, min_support: float, min_confidence: float) -> pd.DataFrame:
    """Rules a -> b between single items: DataFrame (antecedent, consequent, support, confidence,
    lift) over column positions of the binary basket ``matrix`` (n_baskets, n_items)."""
    n = matrix.shape[0]
    if n == 0:
        return pd.DataFrame(columns=["antecedent", "consequent", "support", "confidence", "lift"])
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    min_count = max(1.0, np.ceil(min_support * n - 1e-9))
    frequent = np.flatnonzero(counts >= min_count)
    sub = matrix[:, frequent].astype(np.float32)
    co = (sub.T @ sub).tocoo()
    keep = (co.row != co.col) & (co.data >= min_count)
    a, b, c = frequent[co.row[keep]], frequent[co.col[keep]], co.data[keep].astype(np.float64)
    conf = c / counts[a]
    ok = conf >= min_confidence
    a, b, c, conf = a[ok], b[ok], c[ok], conf[ok]
    lift = conf / (counts[b] / n)
    return pd.DataFrame({"antecedent": a, "consequent": b, "support": c / n, "confidence": conf, "lift": lift})


class AssociationRuleScorer(Scorer):
    """Scores item j for user i by the best rule X -> j with X among i's items of the last
    ``recent_days`` days (all items when 0). ``metric`` is "confidence" or "lift"."""

    name = "association_rules"

    def __init__(self, min_support: float = 0.002, min_confidence: float = 0.05, max_len: int = 2,
                 metric: str = "confidence", recent_days: float = 0.0) -> None:
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.max_len = max_len
        self.metric = metric
        self.recent_days = recent_days

    def fit(self, data: Interactions) -> AssociationRuleScorer:
        m = data.baskets
        if self.max_len <= 2:
            r = pair_rules(m, self.min_support, self.min_confidence)
            ante = sp.csr_matrix(
                (np.ones(len(r), np.float32), (np.arange(len(r)), r["antecedent"].to_numpy(dtype=np.int64))),
                shape=(len(r), data.n_items),
            )
            cons = r["consequent"].to_numpy(dtype=np.int64)
        else:
            names = [str(k) for k in range(data.n_items)]
            rules = mine_rules(BasketSet(m, names), self.min_support, self.min_confidence, max_len=self.max_len)
            rules = rules[rules["consequents"].map(len) == 1].reset_index(drop=True)
            rows = np.repeat(np.arange(len(rules)), rules["antecedents"].map(len).to_numpy())
            cols = np.asarray([int(x) for t in rules["antecedents"] for x in t], dtype=np.int64)
            ante = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(rules), data.n_items))
            cons = np.asarray([int(t[0]) for t in rules["consequents"]], dtype=np.int64)
            r = rules
        self.antecedents_ = ante.tocsr()
        self.antecedent_size_ = np.asarray(ante.sum(axis=1)).ravel().astype(np.float32)
        self.consequents_ = cons
        self.confidence_ = r["confidence"].to_numpy(dtype=np.float32)
        self.lift_ = r["lift"].to_numpy(dtype=np.float32)
        self.support_ = r["support"].to_numpy(dtype=np.float32)
        return self

    def _recent(self, data: Interactions, rows: np.ndarray) -> sp.csr_matrix:
        seen = data.last_seen[rows].tocsr().copy()
        if self.recent_days > 0:
            seen.data = (seen.data <= self.recent_days + 1.0).astype(np.float32)
            seen.eliminate_zeros()
        seen.data[:] = 1.0
        return seen

    def _fired(self, data: Interactions, rows: np.ndarray) -> sp.coo_matrix:
        """(len(rows), n_rules) coo: 1 where the user holds every antecedent item of the rule."""
        hits = (self._recent(data, rows) @ self.antecedents_.T).tocoo()
        full = hits.data >= self.antecedent_size_[hits.col] - 1e-6
        return sp.coo_matrix((np.ones(full.sum(), np.float32), (hits.row[full], hits.col[full])),
                             shape=(len(rows), len(self.consequents_)))

    def score(self, data: Interactions, rows: np.ndarray) -> np.ndarray:
        rows = check_rows(data, rows)
        out = np.zeros((len(rows), data.n_items), dtype=np.float32)
        if len(self.consequents_) == 0 or len(rows) == 0:
            return out
        fired = self._fired(data, rows)
        value = (self.lift_ if self.metric == "lift" else self.confidence_)[fired.col]
        np.maximum.at(out, (fired.row, self.consequents_[fired.col]), value)
        return out

    def best_rules(self, data: Interactions, rows: np.ndarray, items: np.ndarray) -> list[FiredRule | None]:
        """The strongest fired rule with consequent ``items[k]`` for user ``rows[k]``, or None."""
        rows = check_rows(data, rows)
        out: list[FiredRule | None] = [None] * len(rows)
        if len(self.consequents_) == 0 or len(rows) == 0:
            return out
        fired = self._fired(data, rows)
        match = self.consequents_[fired.col] == np.asarray(items)[fired.row]
        r, k = fired.row[match], fired.col[match]
        value = (self.lift_ if self.metric == "lift" else self.confidence_)[k]
        order = np.lexsort((-value, r))
        seen: set[int] = set()
        for pos in order:
            user = int(r[pos])
            if user in seen:
                continue
            seen.add(user)
            rule = int(k[pos])
            ante = self.antecedents_[rule].indices
            out[user] = FiredRule(tuple(int(x) for x in sorted(ante)), int(self.consequents_[rule]),
                                  float(self.confidence_[rule]), float(self.lift_[rule]), float(self.support_[rule]))
        return out
