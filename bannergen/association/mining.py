"""Mining association rules with mlxtend (FP-growth by default, Apriori on request).

Itemset explosion is estimated before mining and checked again between lengths
(``estimate_itemsets``): frequent items and pairs are counted exactly (one sparse product), and a
frequent 3-itemset is a triangle of the frequent-pair graph, so triangles bound length 3; both are
also capped by sum_b C(n_b, l) / min_count (a frequent l-itemset occurs in at least min_count
baskets, n_b being basket b's frequent items). Beyond length 3, mining goes one length at a time
and predicts the next length from the growth of the last two; a threshold whose estimate exceeds
``max_itemsets`` stops with a message instead of exhausting memory.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaln

from bannergen.association.baskets import BasketSet
from bannergen.cache import atomic_write
from bannergen.errors import InputError

log = logging.getLogger(__name__)

RULE_COLUMNS = ("antecedents", "consequents", "support", "confidence", "lift", "leverage", "conviction",
                "antecedent_support", "consequent_support")
ALGORITHMS = ("fpgrowth", "apriori")
MAX_ITEMSETS = 500_000
SEP = "|"


class ThresholdError(InputError):
    """A mining threshold is out of range or would make the itemsets explode."""


@dataclass(frozen=True)
class ItemsetEstimate:
    frequent_items: int
    frequent_pairs: int
    bound: float  # upper bound on the number of frequent itemsets, all lengths up to max_len
    max_len: int


def check_threshold(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and 0.0 < float(value) <= 1.0) or math.isnan(value):
        raise ThresholdError(f"{name} must be within (0, 1]; got {value}")
    return float(value)


def _log_comb(n: np.ndarray, k: int) -> np.ndarray:
    n = np.asarray(n, dtype=np.float64)
    out = np.full(n.shape, -np.inf)
    ok = n >= k
    out[ok] = gammaln(n[ok] + 1) - gammaln(k + 1) - gammaln(n[ok] - k + 1)
    return out


def estimate_itemsets(baskets: BasketSet, min_support: float, max_len: int | None = None) -> ItemsetEstimate:
    """An upper bound on the frequent itemsets mining would produce (exact for length 1 and 2)."""
    m = baskets.matrix
    n = m.shape[0]
    min_count = max(1.0, math.ceil(min_support * n - 1e-9))
    counts = np.asarray(m.sum(axis=0)).ravel()
    frequent = np.flatnonzero(counts >= min_count)
    f = len(frequent)
    sub = m[:, frequent].tocsr()
    per_basket = np.diff(sub.indptr)
    longest = int(per_basket.max()) if len(per_basket) else 0
    top = longest if max_len is None else min(max_len, longest)
    pairs, triangles = 0, 0.0
    if f >= 2 and top >= 2:
        co = (sub.T @ sub).tocsr()
        co.setdiag(0)
        co.data = (co.data >= min_count).astype(np.float64)
        co.eliminate_zeros()
        pairs = int(co.nnz // 2)
        if top >= 3 and pairs:
            triangles = float((co @ co).multiply(co).sum() / 6.0)
            by_baskets = float(np.exp(np.logaddexp.reduce(_log_comb(per_basket, 3)) - math.log(min_count)))
            triangles = min(triangles, by_baskets)
    bound = float(f) + (float(pairs) if top >= 2 else 0.0) + (triangles if top >= 3 else 0.0)
    return ItemsetEstimate(f, pairs, bound, top)


def mine_rules(
    baskets: BasketSet,
    min_support: float,
    min_confidence: float,
    *,
    max_len: int | None = None,
    algorithm: str = "fpgrowth",
    max_itemsets: int = MAX_ITEMSETS,
) -> pd.DataFrame:
    """Rules X -> Y with support >= ``min_support`` and confidence >= ``min_confidence``.

    Returns a DataFrame with RULE_COLUMNS; antecedents and consequents are tuples of item names
    in sorted order. Sorted by lift, then confidence, descending. Raises ThresholdError for
    thresholds outside (0, 1] or an itemset bound above ``max_itemsets``.
    """
    from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth

    check_threshold("min-support", min_support)
    check_threshold("min-confidence", min_confidence)
    if algorithm not in ALGORITHMS:
        raise ThresholdError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
    if max_len is not None and max_len < 2:
        raise ThresholdError(f"max-len must be at least 2 (a rule needs two items); got {max_len}")
    if baskets.n_baskets == 0:
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    est = estimate_itemsets(baskets, min_support, max_len)
    if est.bound > max_itemsets:
        shown = "more than 10^15" if math.isinf(est.bound) else f"up to {est.bound:,.0f}"
        raise ThresholdError(
            f"min-support {min_support:g} is too low for {baskets.n_baskets:,} baskets: {est.frequent_items:,} "
            f"frequent items and {est.frequent_pairs:,} frequent pairs could make {shown} itemsets "
            f"(limit {max_itemsets:,})",
            hint="raise --min-support or set --max-len 2 or 3",
        )
    m = baskets.matrix
    counts = np.asarray(m.sum(axis=0)).ravel()
    min_count = max(1.0, math.ceil(min_support * m.shape[0] - 1e-9))
    frequent = np.flatnonzero(counts >= min_count)
    if len(frequent) == 0:
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    names = np.asarray(baskets.items, dtype=object)[frequent]
    sub = m[:, frequent].astype(bool)
    # Infrequent columns are dropped (they cannot be in a frequent itemset); every basket stays,
    # so supports keep the full basket count as denominator.
    onehot = pd.DataFrame.sparse.from_spmatrix(sub, columns=[f"c{k}" for k in range(len(frequent))])
    miner = fpgrowth if algorithm == "fpgrowth" else apriori
    itemsets = _mine_by_length(miner, onehot, min_support, max_len, est, max_itemsets, baskets.n_baskets)
    if itemsets.empty or (itemsets["itemsets"].map(len) < 2).all():
        return pd.DataFrame(columns=list(RULE_COLUMNS))
    rules = association_rules(itemsets, num_itemsets=m.shape[0], metric="confidence", min_threshold=min_confidence)

    def named(sets: pd.Series) -> list[tuple[str, ...]]:
        return [tuple(sorted(str(names[i]) for i in s)) for s in sets]

    out = pd.DataFrame({
        "antecedents": named(rules["antecedents"]),
        "consequents": named(rules["consequents"]),
        "support": rules["support"].to_numpy(dtype=float),
        "confidence": rules["confidence"].to_numpy(dtype=float),
        "lift": rules["lift"].to_numpy(dtype=float),
        "leverage": rules["leverage"].to_numpy(dtype=float),
        "conviction": rules["conviction"].to_numpy(dtype=float),
        "antecedent_support": rules["antecedent support"].to_numpy(dtype=float),
        "consequent_support": rules["consequent support"].to_numpy(dtype=float),
    })
    out["_a"] = out["antecedents"].map(SEP.join)
    out["_c"] = out["consequents"].map(SEP.join)
    out = out.sort_values(["lift", "confidence", "_a", "_c"], ascending=[False, False, True, True], kind="stable")
    return out.drop(columns=["_a", "_c"]).reset_index(drop=True)


def _mine_by_length(miner, onehot: pd.DataFrame, min_support: float, max_len: int | None, est: ItemsetEstimate,
                    max_itemsets: int, n_baskets: int) -> pd.DataFrame:
    """Mine up to length 3 (bounded by the estimate), then one length at a time while the
    growth of the last two lengths predicts staying under ``max_itemsets``."""
    length = min(3, est.max_len) if max_len is None else min(max_len, 3, est.max_len)
    length = max(length, 1)
    itemsets = miner(onehot, min_support=min_support, use_colnames=False, max_len=length)
    limit = est.max_len if max_len is None else min(max_len, est.max_len)
    while length < limit:
        sizes = itemsets["itemsets"].map(len).value_counts()
        last, before = int(sizes.get(length, 0)), int(sizes.get(length - 1, 0))
        if last == 0:
            break  # no frequent itemset of this length: none longer either
        predicted = last * max(1.0, last / max(before, 1))
        if len(itemsets) + predicted > max_itemsets:
            raise ThresholdError(
                f"min-support {min_support:g} is too low for {n_baskets:,} baskets: {len(itemsets):,} itemsets up "
                f"to length {length}, about {predicted:,.0f} more expected at length {length + 1} "
                f"(limit {max_itemsets:,})",
                hint=f"raise --min-support or set --max-len {length}",
            )
        length += 1
        itemsets = miner(onehot, min_support=min_support, use_colnames=False, max_len=length)
    return itemsets


def rules_frame_for_output(rules: pd.DataFrame) -> pd.DataFrame:
    """Itemsets as ``a|b`` text in sorted order; numbers rounded to 6 places."""
    out = rules[list(RULE_COLUMNS)].copy()
    for col in ("antecedents", "consequents"):
        out[col] = out[col].map(SEP.join)
    for col in RULE_COLUMNS[2:]:
        out[col] = out[col].astype(float).round(6)
    return out


def write_rules(rules: pd.DataFrame, path: Path) -> None:
    """Write rules as CSV (``.csv``) or JSON (``.json``: a list of objects, itemsets as lists),
    atomically. Infinite conviction (confidence 1) is written as ``inf`` in CSV and null in JSON."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json"):
        raise InputError(f"{path}: rules are written as .csv or .json; got '{path.suffix or 'no suffix'}'")
    if path.suffix.lower() == ".csv":
        text = rules_frame_for_output(rules).to_csv(index=False, lineterminator="\n")
    else:
        records = []
        for r in rules.itertuples(index=False):
            rec = {c: getattr(r, c) for c in RULE_COLUMNS}
            rec["antecedents"], rec["consequents"] = list(r.antecedents), list(r.consequents)
            for c in RULE_COLUMNS[2:]:
                v = float(rec[c])
                rec[c] = round(v, 6) if math.isfinite(v) else None
            records.append(rec)
        text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    atomic_write(path, text.encode("utf-8"))
