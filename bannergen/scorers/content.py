"""The content interest scorer: s_ij = sum_b beta_b * U_i[b] . C_j[b] + gamma * w_ij + pi * pop_j.

The first term is the design article's match of user interest against item features, weighted per
feature block (category, brand, price band); the item term favours what the user already looked at;
the popularity term breaks ties and is the whole score for a user with no history (cold start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bannergen.features import ItemFeatures
from bannergen.profile import Profiles
from bannergen.scorers.base import Interactions, Scorer

if TYPE_CHECKING:  # annotations only: settings imports the scorers, which import this module
    from bannergen.scorers.settings import InterestWeights


class ContentScorer(Scorer):
    """Scores users against items. ``fit`` returns self; ``score`` returns (n_rows, n_items) float32.

    Follows the shared interface (``fit(data)``, ``score(data, rows)`` with ``data`` an
    Interactions carrying profiles and features), and also takes profiles and features directly:

        >>> scorer = ContentScorer(weights).fit(profiles, features)  # doctest: +SKIP
        >>> scores = scorer.score(np.arange(100))   # the first 100 users  # doctest: +SKIP
    """

    name = "content"
    normalize = False  # its units are designed (block weights); the softmax temperature is tuned to them

    def __init__(self, weights: InterestWeights) -> None:
        self.weights = weights

    def get_params(self) -> dict:
        return {}  # the weights come from scoring/weights.toml, which is part of a model's fingerprint

    def fit(self, profiles: Profiles | Interactions, features: ItemFeatures | None = None) -> ContentScorer:
        if isinstance(profiles, Interactions):
            data = profiles
            if data.profiles is None or data.features is None:
                raise ValueError("ContentScorer needs Interactions built with profiles and features")
            profiles, features = data.profiles, data.features
        assert features is not None
        self.fit_item_side(features, profiles.popularity)
        self._bind(profiles)
        return self

    def fit_item_side(self, features: ItemFeatures, popularity: np.ndarray) -> ContentScorer:
        """The item side alone, from the features and the shop's item popularity (which partitions
        of users sum apart: bannergen.distributed); users are bound when scored."""
        beta = features.block_weights(self.weights)
        # (n_features, n_items) dense: small (features are tens to hundreds), and a sparse x dense
        # product with it is the fastest way to a dense score block.
        self.item_side_ = np.asarray((features.matrix.multiply(beta[None, :])).T.todense(), dtype=np.float32)
        self.prior_ = (self.weights.popularity * np.asarray(popularity)).astype(np.float32)
        return self

    def _bind(self, profiles: Profiles) -> None:
        """User-side state: interest vectors and item shares of ``profiles`` (not saved)."""
        self._fitted_on = profiles
        self._interest = profiles.interest.astype(np.float32)
        self._item_weights = profiles.item_share().astype(np.float32).tocsr()

    def score(self, data: Interactions | np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Scores of the users at ``rows`` (profile row numbers): ndarray (len(rows), n_items) float32.

        ``score(rows)`` uses the profiles it was fitted on; ``score(data, rows)`` the profiles of
        ``data`` (today's users for a model fitted earlier)."""
        if rows is None:
            rows = np.asarray(data)
        elif (
            isinstance(data, Interactions)
            and data.profiles is not None
            and data.profiles is not getattr(self, "_fitted_on", None)
        ):
            self._bind(data.profiles)
        block = np.asarray(self._interest[rows] @ self.item_side_, dtype=np.float32)
        block += self.prior_[None, :]
        if self.weights.item:
            own = self._item_weights[rows].tocoo()
            block[own.row, own.col] += self.weights.item * own.data
        return block
