"""The reward model of the doubly robust estimator: P(click | banner, placement) by logistic
regression on banner features, fitted on the logged impressions.

Features: the template, the item's category and price band, the placement (one-hot), the
candidate's score, and whether the banner is a fixed one (a pin or default banner has no score).
A model over features rather than per-variant means generalises to candidates that were rarely
or never shown, which is where DR needs it most. Prediction adds the fitted weights of each
cell's feature codes directly (no one-hot matrix of every candidate of every impression).

    >>> q = RewardModel(random_state=0).fit(logged, items).predict(logged)  # doctest: +SKIP

(q holds one predicted CTR per impression and candidate, (n, k).)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit

from bannergen.ope.logged import LoggedDecisions

CATEGORICAL = ("template", "category", "price_band", "placement")


def _text(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=object)


@dataclass
class RewardModel:
    """Logistic regression of the click on banner features. ``C``: inverse L2 strength.

    Fitted state: categories_ (feature -> pd.Index of the values seen), weights_ (feature ->
    weight per value), coef_score_, coef_fixed_, intercept_; constant_ when the log has only
    clicks or only non-clicks (nothing to separate)."""

    C: float = 1.0
    random_state: int = 0
    categories_: dict[str, pd.Index] = field(default_factory=dict, init=False, repr=False)
    weights_: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    coef_score_: float = field(default=0.0, init=False)
    coef_fixed_: float = field(default=0.0, init=False)
    intercept_: float = field(default=0.0, init=False)
    constant_: float | None = field(default=None, init=False)
    items_: Any = field(default=None, init=False, repr=False)

    def _item_features(self, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(category, price_band), each object (m,), of ``item_ids`` (m,); "" for unknown items."""
        if self.items_ is None or not len(self.items_):
            empty = np.full(len(item_ids), "", dtype=object)
            return empty, empty
        at = pd.Index(self.items_["item_id"].to_numpy(dtype=object)).get_indexer(_text(item_ids))
        found = at >= 0
        pick = np.maximum(at, 0)
        category = np.where(found, self.items_["category"].to_numpy(dtype=object)[pick], "")
        band = np.where(found, self.items_["price_band"].to_numpy(dtype=object)[pick], "")
        return category.astype(object), band.astype(object)

    def _columns(self, templates: np.ndarray, items: np.ndarray, placements: np.ndarray) -> dict[str, np.ndarray]:
        category, band = self._item_features(items)
        return {"template": _text(templates), "category": category, "price_band": band,
                "placement": _text(placements)}

    def fit(self, logged: LoggedDecisions, items: pd.DataFrame | None = None) -> RewardModel:
        """Fit on the shown banners of ``logged``; ``items``: item_id, category, price_band (None:
        template, placement and score only)."""
        from sklearn.linear_model import LogisticRegression

        self.items_ = items
        self.constant_ = None
        if logged.n == 0 or len(np.unique(logged.reward)) < 2:
            self.constant_ = float(logged.reward.mean()) if logged.n else 0.0
            return self
        item, template = logged.shown()
        columns = self._columns(template, item, logged.placement)
        score = logged.scores[logged.decision, logged.action]
        blocks = []
        for name in CATEGORICAL:
            codes, uniques = pd.factorize(columns[name])
            self.categories_[name] = pd.Index(uniques)
            blocks.append(sp.csr_matrix((np.ones(logged.n), (np.arange(logged.n), codes)),
                                        shape=(logged.n, len(uniques))))
        dense = np.column_stack([np.nan_to_num(score, nan=0.0), np.isnan(score).astype(np.float64)])
        model = LogisticRegression(C=self.C, max_iter=500, random_state=self.random_state)
        model.fit(sp.hstack([*blocks, sp.csr_matrix(dense)], format="csr"), logged.reward)
        coef = model.coef_[0]
        start = 0
        for name in CATEGORICAL:
            size = len(self.categories_[name])
            self.weights_[name] = coef[start:start + size]
            start += size
        self.coef_score_, self.coef_fixed_ = float(coef[start]), float(coef[start + 1])
        self.intercept_ = float(model.intercept_[0])
        return self

    def predict(self, logged: LoggedDecisions) -> np.ndarray:
        """P(click) of every candidate of every impression, (n, k); 0 where there is no candidate."""
        n, k = logged.n, logged.k
        rows, cols = np.nonzero(logged.listed[logged.decision])
        out = np.zeros((n, k))
        if not len(rows):
            return out
        if self.constant_ is not None:
            out[rows, cols] = self.constant_
            return out
        d = logged.decision[rows]
        columns = self._columns(logged.templates[d, cols], logged.item_ids[d, cols], logged.placement[rows])
        score = logged.scores[d, cols]
        logit = self.intercept_ + self.coef_score_ * np.nan_to_num(score, nan=0.0) + self.coef_fixed_ * np.isnan(score)
        for name in CATEGORICAL:
            code = self.categories_[name].get_indexer(columns[name])
            logit += np.where(code >= 0, self.weights_[name][np.maximum(code, 0)], 0.0)  # unseen value: no weight
        out[rows, cols] = expit(logit)
        return out
