"""Offline evaluation on a time split: every scorer, the blend and the baselines.

Protocol:
- split date D (default: the last event's day minus 30 days); training = events before D,
  test = purchases on or after D;
- evaluated users: purchases both before and after D (and, under ``new-items``, at least one
  held-out item they had not bought before);
- ``new-items`` ranks only items the user has not bought before and counts only those as hits;
  ``repeat`` ranks everything and counts repeat purchases;
- the blend's weights are tuned on a validation split carved from the end of the training period
  (D - validation_days .. D), fitting on what comes before it (``tune_weights``: a logistic
  regression over the scorers' normalised scores on each user's candidate items). The test period
  is never seen while tuning; the scorers are then refitted on all the training data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.errors import InputError
from bannergen.evaluation.metrics import UserMetrics, bootstrap_ratio, rank_metrics, top_k
from bannergen.scorers.base import Interactions, build_interactions
from bannergen.scorers.blend import Blend
from bannergen.scorers.settings import BlendSettings, InterestWeights

log = logging.getLogger(__name__)

PROTOCOLS = ("new-items", "repeat")
CHUNK = 4096
GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5)


@dataclass(frozen=True)
class Fold:
    """One train/test cut: interactions before ``cut``, targets in [cut, end)."""

    data: Interactions
    rows: np.ndarray  # evaluated users' rows in data
    targets: sp.csr_matrix  # (len(rows), n_items) binary
    exclude: sp.csr_matrix | None  # (len(rows), n_items) items that may not be ranked
    cut: pd.Timestamp


@dataclass
class EvaluationResult:
    k: int
    protocol: str
    split_date: str
    validation_split_date: str
    users: int
    data: str
    results: list[dict[str, Any]]
    weights: dict[str, float]
    ratios: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The contract of ``bannergen evaluate --format json`` (extra keys come after ``results``)."""
        return {
            "k": self.k, "protocol": self.protocol, "split_date": self.split_date, "users": self.users,
            "results": self.results, "data": self.data, "validation_split_date": self.validation_split_date,
            "blend_weights": self.weights, "ratios": self.ratios,
        }


def default_split(events: pd.DataFrame, days: float = 30.0) -> pd.Timestamp:
    """The last event's day (midnight UTC) minus ``days``; for data spanning less than twice
    that (the 30-day example shop), the last quarter of the span, in whole days."""
    first, last = events["ts"].min(), events["ts"].max().normalize()
    span_days = (last - first).total_seconds() / 86400.0
    if span_days < 2 * days:
        days = max(1.0, float(np.floor(span_days / 4)))
    return last - pd.Timedelta(days=days)


def parse_date(text: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--split-date: not a date; got {text!r}", hint="use ISO 8601 such as 2011-11-09") from exc
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def make_fold(events: pd.DataFrame, catalog: pd.DataFrame, baskets: pd.DataFrame | None, cut: pd.Timestamp,
              end: pd.Timestamp | None, protocol: str, interest: InterestWeights | None) -> Fold:
    train = events[events["ts"] < cut]
    test = events[(events["ts"] >= cut) & (events["event"] == "purchase")]
    if end is not None:
        test = test[test["ts"] < end]
    train_baskets = baskets[baskets["ts"] < cut] if baskets is not None else None
    titles = catalog.get("title")
    data = build_interactions(train, catalog["item_id"], cut, baskets=train_baskets, titles=titles)
    if interest is not None:
        from bannergen.features import build_item_features
        from bannergen.profile import build_profiles

        features = build_item_features(catalog, interest)
        data = data.with_content(build_profiles(train, features, interest, cut), features)
    buyers = np.flatnonzero(np.diff(data.purchases.indptr) > 0)
    u = data.user_ids.get_indexer(test["user_id"].to_numpy())
    j = data.item_ids.get_indexer(test["item_id"].to_numpy())
    ok = (u >= 0) & (j >= 0)
    t = sp.csr_matrix((np.ones(ok.sum(), np.float32), (u[ok], j[ok])), shape=(data.n_users, data.n_items))
    t.sum_duplicates()
    t.data[:] = 1.0
    bought = data.bought()
    exclude = None
    if protocol == "new-items":
        t = (t - t.multiply(bought)).tocsr()
        t.eliminate_zeros()
    has_target = np.diff(t.indptr) > 0
    rows = buyers[has_target[buyers]]
    if protocol == "new-items":
        exclude = bought[rows].tocsr()
    return Fold(data, rows, t[rows].tocsr(), exclude, cut)


def _scorer_names(protocol: str, interest: InterestWeights | None) -> list[str]:
    names = ["popularity", "popularity_recent", "popularity_now", "item_knn", "svd", "ease", "association_rules",
             "title"]
    if protocol == "repeat":
        names.append("history")
    if interest is not None:
        names.insert(0, "content")
    return names


def _parts(blend: Blend, fold: Fold, names: list[str]) -> dict[str, np.ndarray]:
    chunks = [blend.components(fold.data, fold.rows[s:s + CHUNK], names) for s in range(0, len(fold.rows), CHUNK)]
    return {n: np.concatenate([c[n] for c in chunks]) if chunks else np.zeros((0, fold.data.n_items), np.float32)
            for n in names}


def _metrics(scores: np.ndarray, fold: Fold, k: int) -> UserMetrics:
    return rank_metrics(top_k(scores, k, fold.exclude), fold.targets, k)


def _weighted_sum(parts: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray | None:
    """sum_b w_b * parts[b] over the non-zero weights, (n_rows, n_items) float32; None when every
    weight is zero."""
    total: np.ndarray | None = None
    for name, w in weights.items():
        if w:
            part = np.float32(w) * parts[name]
            total = part if total is None else total + part
    return total


def tune_weights(parts: dict[str, np.ndarray], fold: Fold, k: int, method: str = "logistic",
                 candidates: int = 150) -> dict[str, float]:
    """Blend weights from the validation fold: ``logistic`` (the default) fits a logistic regression
    of "bought in the validation window" on the scorers' normalised scores over each user's
    ``candidates`` best items by the best single scorer (weights may be negative: all-time
    popularity against this week's is "rising"); ``grid`` is coordinate ascent on NDCG@k.
    Falls back to the grid when the fold has no positive or no negative candidate."""
    if method == "logistic":
        weights = logistic_weights(parts, fold, k, candidates)
        if weights:
            return weights
    return grid_weights(parts, fold, k)


def logistic_weights(parts: dict[str, np.ndarray], fold: Fold, k: int, candidates: int = 150) -> dict[str, float]:
    """Weights of a logistic regression (L2, C = 1) fitted on (user, candidate item) pairs of the
    validation fold, scaled so the largest |weight| is 1; {} when it cannot be fitted."""
    from sklearn.linear_model import LogisticRegression

    names = list(parts)
    if not names or not len(fold.rows):
        return {}
    single = {n: float(_metrics(parts[n], fold, k).ndcg.mean()) for n in names}
    best_name = max(names, key=lambda n: (single[n], -names.index(n)))
    base = np.array(parts[best_name], dtype=np.float32, copy=True)
    if fold.exclude is not None and fold.exclude.nnz:
        ex = fold.exclude.tocoo()
        base[ex.row, ex.col] = -np.inf
    n_cand = min(candidates, base.shape[1])
    cand = np.argpartition(-base, n_cand - 1, axis=1)[:, :n_cand] if n_cand < base.shape[1] else \
        np.tile(np.arange(base.shape[1]), (len(base), 1))
    r = np.repeat(np.arange(len(base)), cand.shape[1])
    c = cand.ravel()
    allowed = np.isfinite(base[r, c])
    r, c = r[allowed], c[allowed]
    y = np.asarray(fold.targets[r, c]).ravel() > 0
    if y.all() or not y.any():
        return {}
    x = np.column_stack([parts[n][r, c] for n in names]).astype(np.float64)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
    coef = model.coef_[0]
    top = np.abs(coef).max()
    if not np.isfinite(top) or top <= 0:
        return {}
    weights = {n: round(float(w / top), 4) for n, w in zip(names, coef)}
    total = _weighted_sum(parts, weights)
    value = float(_metrics(total, fold, k).ndcg.mean()) if total is not None else 0.0
    log.info(
        "logistic weights %s: validation NDCG@%d %.4f (best single %s %.4f)",
        weights,
        k,
        value,
        best_name,
        single[best_name],
    )
    return {n: w for n, w in weights.items() if w}


def grid_weights(parts: dict[str, np.ndarray], fold: Fold, k: int, rounds: int = 3,
                 start: dict[str, float] | None = None) -> dict[str, float]:
    """Coordinate ascent on mean NDCG@k over ``GRID``, starting from the best single scorer (weight 1)."""
    names = list(parts)
    single = {n: _metrics(parts[n], fold, k).ndcg.mean() for n in names}
    best_name = max(names, key=lambda n: (single[n], -names.index(n)))
    weights = {n: 0.0 for n in names}
    weights[best_name] = 1.0
    if start:
        weights.update({n: w for n, w in start.items() if n in weights})

    def value(w: dict[str, float]) -> float:
        total = _weighted_sum(parts, {n: w[n] for n in names})
        return float(_metrics(total, fold, k).ndcg.mean()) if total is not None else 0.0

    best = value(weights)
    for _ in range(rounds):
        improved = False
        for n in names:
            if n == best_name:
                continue
            for g in GRID:
                if g == weights[n]:
                    continue
                trial = {**weights, n: g}
                v = value(trial)
                if v > best + 1e-9:
                    best, weights, improved = v, trial, True
        if not improved:
            break
    log.info(
        "tuned weights %s: validation NDCG@%d %.4f (best single %s %.4f)",
        weights,
        k,
        best,
        best_name,
        single[best_name],
    )
    return {n: float(w) for n, w in weights.items() if w}


def evaluate(
    catalog: pd.DataFrame,
    events: pd.DataFrame,
    *,
    baskets: pd.DataFrame | None = None,
    k: int = 10,
    split_date: pd.Timestamp | None = None,
    protocol: str = "new-items",
    settings: BlendSettings,
    interest: InterestWeights | None = None,
    data_label: str = "",
    n_boot: int = 1000,
) -> EvaluationResult:
    """Evaluate every scorer and the tuned blend on a time split (see the module docstring)."""
    started = time.perf_counter()
    if protocol not in PROTOCOLS:
        raise InputError(f"--protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    if k < 1:
        raise InputError(f"--k must be at least 1; got {k}")
    if events.empty or not (events["event"] == "purchase").any():
        raise InputError("evaluate needs purchase events; the events have none")
    cut = split_date if split_date is not None else default_split(events)
    first, last = events["ts"].min(), events["ts"].max()
    if not first < cut <= last:
        raise InputError(f"--split-date {cut.date()} is outside the data ({first.date()} .. {last.date()})")
    val_cut = cut - pd.Timedelta(days=settings.validation_days)
    names = _scorer_names(protocol, interest)

    # 1. tune the blend on the validation window, never looking at the test period
    weights: dict[str, float] = {}
    if val_cut > first:
        val = make_fold(events[events["ts"] < cut], catalog, baskets, val_cut, cut, protocol, interest)
        if len(val.rows):
            blend = Blend.from_settings(settings, interest, weights={n: 1.0 for n in names}).fit(val.data)
            weights = tune_weights(_parts(blend, val, names), val, k)
    if not weights:
        weights = {n: w for n, w in settings.weights.items() if n in names} or {"ease": 1.0}

    # 2. refit on all training data; score the test period
    fold = make_fold(events, catalog, baskets, cut, None, protocol, interest)
    if len(fold.rows) == 0:
        raise InputError(
            f"no user has purchases both before and after {cut.date()}", hint="choose another --split-date"
        )
    blend = Blend.from_settings(settings, interest, weights={n: 1.0 for n in names}).fit(fold.data)
    parts = _parts(blend, fold, names)
    per_user: dict[str, UserMetrics] = {n: _metrics(parts[n], fold, k) for n in names}
    total = _weighted_sum(parts, weights)
    if total is None:
        raise InputError("every blend weight is zero", hint="give at least one scorer a weight in scoring/blend.toml")
    per_user = {"blend": _metrics(total, fold, k), **per_user}
    results = [{"scorer": n, **{m: round(v, 6) for m, v in um.summary(fold.data.n_items).items()}}
               for n, um in per_user.items()]

    ratios = []
    singles = [n for n in names if n != "blend"]
    best_single = max(singles, key=lambda n: per_user[n].ndcg.mean())
    against = [("best single (" + best_single + ")", best_single), ("popularity_recent", "popularity_recent")]
    if protocol == "repeat":
        against.append(("history", "history"))
    for label, name in against:
        r, lo, hi = bootstrap_ratio(per_user["blend"].ndcg, per_user[name].ndcg, n_boot=n_boot)
        ratios.append(
            {"metric": f"ndcg@{k}", "blend_vs": label, "ratio": round(r, 4), "low": round(lo, 4), "high": round(hi, 4)}
        )
    return EvaluationResult(
        k=k, protocol=protocol, split_date=str(cut.date()), validation_split_date=str(val_cut.date()),
        users=int(len(fold.rows)), data=data_label, results=results, weights=weights, ratios=ratios,
        seconds=time.perf_counter() - started,
    )
