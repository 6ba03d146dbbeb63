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
from bannergen.scorers.sums import Sums, column_sums, gram


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
    return pair_rules_from_counts(matrix.shape[0], column_sums(matrix), gram(matrix), min_support, min_confidence)


def pair_rules_from_counts(n_baskets: int, counts: np.ndarray, pairs: sp.spmatrix, min_support: float,
                           min_confidence: float) -> pd.DataFrame:
    """``pair_rules`` from the number of baskets, each item's basket count and each pair's
    (``pairs`` = B'B): sums over baskets, so partitions of users can count theirs apart.
    Rules are ordered by antecedent, then consequent."""
    n = int(n_baskets)
    if n == 0:
        return pd.DataFrame(columns=["antecedent", "consequent", "support", "confidence", "lift"])
    counts = np.asarray(counts, dtype=np.float64)
    min_count = max(1.0, np.ceil(min_support * n - 1e-9))
    frequent = np.flatnonzero(counts >= min_count)
    co = sp.csr_matrix(pairs)[frequent][:, frequent].tocoo()
    keep = (co.row != co.col) & (co.data >= min_count)
    a, b, c = frequent[co.row[keep]], frequent[co.col[keep]], co.data[keep].astype(np.float64)
    order = np.lexsort((b, a))
    a, b, c = a[order], b[order], c[order]
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

    def additive(self) -> bool:
        return self.max_len <= 2  # longer rules are mined by FP-growth over every basket at once

    def sums(self, data: Interactions, into: Sums) -> None:
        if "baskets/pairs" not in into:
            into["baskets/n"] = np.asarray([data.baskets.shape[0]], dtype=np.float64)
            into["baskets/items"] = column_sums(data.baskets)
            into["baskets/pairs"] = gram(data.baskets)

    def sum_keys(self) -> tuple[str, ...]:
        return ("baskets/n", "baskets/items", "baskets/pairs")

    def fit_sums(self, sums: Sums, shop: Interactions) -> AssociationRuleScorer:
        r = pair_rules_from_counts(int(sums["baskets/n"][0]), sums["baskets/items"], sums["baskets/pairs"],
                                   self.min_support, self.min_confidence)
        return self._keep(r, self._single_antecedents(r, shop.n_items), r["consequent"].to_numpy(dtype=np.int64))

    @staticmethod
    def _single_antecedents(r: pd.DataFrame, n_items: int) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.ones(len(r), np.float32), (np.arange(len(r)), r["antecedent"].to_numpy(dtype=np.int64))),
            shape=(len(r), n_items),
        )

    def fit(self, data: Interactions) -> AssociationRuleScorer:
        if self.additive():
            return super().fit(data)  # type: ignore[return-value]
        names = [str(k) for k in range(data.n_items)]
        rules = mine_rules(BasketSet(data.baskets, names), self.min_support, self.min_confidence,
                           max_len=self.max_len)
        rules = rules[rules["consequents"].map(len) == 1].reset_index(drop=True)
        rows = np.repeat(np.arange(len(rules)), rules["antecedents"].map(len).to_numpy())
        cols = np.asarray([int(x) for t in rules["antecedents"] for x in t], dtype=np.int64)
        ante = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(len(rules), data.n_items))
        return self._keep(rules, ante, np.asarray([int(t[0]) for t in rules["consequents"]], dtype=np.int64))

    def _keep(self, rules: pd.DataFrame, antecedents: sp.csr_matrix, consequents: np.ndarray) -> AssociationRuleScorer:
        """The fitted rule table: one row of ``antecedents`` (items) per rule, its consequent and numbers."""
        self.antecedents_ = antecedents.tocsr()
        self.antecedent_size_ = np.asarray(antecedents.sum(axis=1)).ravel().astype(np.float32)
        self.consequents_ = consequents
        self.confidence_ = rules["confidence"].to_numpy(dtype=np.float32)
        self.lift_ = rules["lift"].to_numpy(dtype=np.float32)
        self.support_ = rules["support"].to_numpy(dtype=np.float32)
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
