"""The content interest scorer: s_ij = sum_b beta_b * U_i[b] . C_j[b] + gamma * w_ij + pi * pop_j.

The first term is the design article's match of user interest against item features, weighted per
feature block (category, brand, price band); the item term favours what the user already looked at;
the popularity term breaks ties and is the whole score for a user with no history (cold start).
"""

from __future__ import annotations

import numpy as np
from bannergen.features import ItemFeatures
from bannergen.profile import Profiles
from bannergen.scorers.settings import InterestWeights


class ContentScorer:
    """Scores users against items. ``fit`` returns self; ``score`` returns (n_rows, n_items) float32.

    Example:
        >>> scorer = ContentScorer(weights).fit(profiles, features)
        >>> scores = scorer.score(np.arange(100))   # the first 100 users
    """

    def __init__(self, weights: InterestWeights) -> None:
        self.weights = weights

    def fit(self, profiles: Profiles, features: ItemFeatures) -> "ContentScorer":
        beta = features.block_weights(self.weights)
        # (n_features, n_items) dense: small (features are tens to hundreds), and a sparse x dense
        # product with it is the fastest way to a dense score block.
        self.item_side_ = np.asarray((features.matrix.multiply(beta[None, :])).T.todense(), dtype=np.float32)
        self.interest_ = profiles.interest.astype(np.float32)
        self.item_weights_ = profiles.item_share().astype(np.float32).tocsr()
        self.prior_ = (self.weights.popularity * profiles.popularity).astype(np.float32)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        """Scores of the users at ``rows`` (profile row numbers): ndarray (len(rows), n_items) float32."""
        block = np.asarray(self.interest_[rows] @ self.item_side_, dtype=np.float32)
        block += self.prior_[None, :]
        if self.weights.item:
            own = self.item_weights_[rows].tocoo()
            block[own.row, own.col] += self.weights.item * own.data
        return block
