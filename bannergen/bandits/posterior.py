"""Live Beta posteriors per (placement, variant), updated incrementally from the store.

One PosteriorCache per process: ``attach(store)`` loads the current (filtered) counts once and
subscribes to the store, so each committed add() (an ingested click, an impression logged by the
service) moves the counts the next decision reads - no refit, no re-query. Incremental updates
use raw counts (the invalid-click filter needs history); ``refresh()`` re-reads filtered counts.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pandas as pd

from bannergen.feedback.store import FeedbackStore

log = logging.getLogger(__name__)


class PosteriorCache:
    """Counts of impressions and clicks per (placement, variant_id).

    >>> cache = PosteriorCache().attach(store)
    >>> clicks, impressions = cache.lookup("home", variant_ids)   # (n, k) each
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], list[int]] = {}
        self._lock = threading.Lock()
        self._store: FeedbackStore | None = None

    def attach(self, store: FeedbackStore) -> PosteriorCache:
        self._store = store
        self.refresh()
        store.subscribe(self.update)
        return self

    def refresh(self) -> None:
        """Reload filtered counts (holdout traffic excluded) from the attached store."""
        if self._store is None:
            return
        counts = self._store.counts_by(["placement", "variant_id"])
        counts = counts[~counts["holdout"]]
        with self._lock:
            self._counts = {(p, v): [int(i), int(c)] for p, v, i, c in
                            counts[["placement", "variant_id", "impressions", "clicks"]].itertuples(index=False)}

    def update(self, delta: pd.DataFrame) -> None:
        """Add ``delta`` (variant_id, placement, impressions, clicks, ...) - the store's listener."""
        with self._lock:
            for v, p, i, c in delta[["variant_id", "placement", "impressions", "clicks"]].itertuples(index=False):
                slot = self._counts.setdefault((p, v), [0, 0])
                slot[0] += int(i)
                slot[1] += int(c)

    def lookup(self, placement: str, variant_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(clicks, impressions) for ``variant_ids`` (any shape, e.g. (n, k)); 0 for unseen variants."""
        ids = np.asarray(variant_ids, dtype=object)
        uniq, inverse = np.unique(ids.reshape(-1), return_inverse=True)
        with self._lock:
            table = np.array([self._counts.get((placement, v), (0, 0)) for v in uniq], dtype=np.int64).reshape(-1, 2)
        return table[inverse, 1].reshape(ids.shape), table[inverse, 0].reshape(ids.shape)
