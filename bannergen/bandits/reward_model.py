"""The reward model of the doubly robust estimator: P(click | banner, placement) by logistic
regression on banner features, fitted on the logged impressions.

Features: the template, the item's category and price band, the placement (one-hot), the
candidate's score, and whether the banner is a fixed one (a pin or default banner has no score).
A model over features rather than per-variant means generalises to candidates that were rarely
or never shown, which is where DR needs it most.

    >>> q = RewardModel(random_state=0).fit(logged, items).predict(logged)   # (n, k)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bannergen.bandits.logged import LoggedDecisions

ITEM_COLUMNS = ("item_id", "category", "price_band")
CATEGORICAL = ("template", "category", "price_band", "placement")


def _features(templates: np.ndarray, items: np.ndarray, placements: np.ndarray, scores: np.ndarray,
              item_table: pd.DataFrame) -> pd.DataFrame:
    """One row per (impression, candidate): the model's raw features, all (m,) arrays."""
    info = item_table.set_index("item_id").reindex(items)
    return pd.DataFrame({
        "template": templates, "placement": placements,
        "category": info["category"].fillna("").to_numpy(dtype=object),
        "price_band": info["price_band"].fillna("").to_numpy(dtype=object),
        "score": np.nan_to_num(scores, nan=0.0), "fixed": np.isnan(scores).astype(np.float64),
    })


@dataclass
class RewardModel:
    """Logistic regression of the click on banner features. ``C``: inverse L2 strength."""

    C: float = 1.0
    random_state: int = 0
    encoder_: Any = field(default=None, init=False, repr=False)
    model_: Any = field(default=None, init=False, repr=False)
    items_: Any = field(default=None, init=False, repr=False)
    constant_: float | None = field(default=None, init=False)

    def _matrix(self, frame: pd.DataFrame) -> sp.csr_matrix:
        onehot = self.encoder_.transform(frame[list(CATEGORICAL)].astype(str))
        return sp.hstack([onehot, sp.csr_matrix(frame[["score", "fixed"]].to_numpy(np.float64))], format="csr")

    def fit(self, logged: LoggedDecisions, items: pd.DataFrame | None = None) -> RewardModel:
        """Fit on the shown banners of ``logged``; ``items``: item_id, category, price_band (None:
        template, placement and score only)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder

        self.items_ = (items if items is not None else pd.DataFrame(columns=list(ITEM_COLUMNS)))[list(ITEM_COLUMNS)]
        rows = np.arange(logged.n)
        item, template = logged.shown()
        frame = _features(template, item, logged.placement, logged.scores[logged.decision, logged.action], self.items_)
        self.encoder_ = OneHotEncoder(handle_unknown="ignore").fit(frame[list(CATEGORICAL)].astype(str))
        self.constant_ = None
        if logged.n == 0 or len(np.unique(logged.reward)) < 2:  # all clicks or none: nothing to separate
            self.constant_ = float(logged.reward.mean()) if logged.n else 0.0
            return self
        self.model_ = LogisticRegression(C=self.C, max_iter=500, random_state=self.random_state)
        self.model_.fit(self._matrix(frame), logged.reward[rows])
        return self

    def predict(self, logged: LoggedDecisions) -> np.ndarray:
        """P(click) of every candidate of every impression, (n, k); 0 where there is no candidate."""
        n, k = logged.n, logged.k
        listed = logged.listed[logged.decision]
        rows, cols = np.nonzero(listed)
        d = logged.decision[rows]
        out = np.zeros((n, k))
        if not len(rows):
            return out
        if self.constant_ is not None:
            out[rows, cols] = self.constant_
            return out
        frame = _features(logged.templates[d, cols], logged.item_ids[d, cols], logged.placement[rows],
                          logged.scores[d, cols], self.items_)
        out[rows, cols] = self.model_.predict_proba(self._matrix(frame))[:, 1]
        return out
