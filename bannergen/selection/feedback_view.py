"""What feedback says about candidate banners, keyed by (item_id, template).

A banner's sizes and placements share their evidence (the feedback store counts per variant, and
a variant is one banner at one size), so Thompson sampling learns a banner's CTR from all of its
variants. Counts are filtered (invalid clicks out) and exclude holdout traffic. The view updates
in place as the store commits new events (real time: the next decision sees a click without a
refit), and keeps today's impressions per user for the frequency cap.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bannergen.feedback.schema import IngestCounts
from bannergen.feedback.store import FeedbackStore
from bannergen.feedback.validate import validate_frame
from bannergen.types import Reject

DAY_US = 86_400 * 1_000_000
KEY = ["item_id", "template"]
# Up to this many cells a lookup is a loop over dictionary gets (a served decision: one user, a
# few candidates); above it one vectorized reindex (a batch). Both give the same numbers.
SMALL_LOOKUP = 64


@dataclass
class FeedbackView:
    variants: pd.DataFrame  # variant_id, template, item_id (from the manifests)
    counts: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (item, template) -> [impr, clicks]
    today: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (user, item, template) -> impressions
    day: int = 0  # the UTC day (us // DAY_US) ``today`` is about
    # Change counters, so a caller may keep a decision until what it read changes: ``version``
    # moves with any count, ``user_today`` with a user's impressions today.
    version: int = 0
    user_today: dict[str, int] = field(default_factory=dict)
    _attached: list = field(default_factory=list, repr=False)  # stores whose commits this view follows
    scope: str = "all"  # "all" placements pooled, or one placement's feedback only
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def empty(cls) -> FeedbackView:
        return cls(pd.DataFrame(columns=["variant_id", "template", "item_id"]))

    @classmethod
    def load(cls, store, variants: pd.DataFrame, now_us: int, scope: str = "all") -> FeedbackView:
        """Counts from ``store`` (a FeedbackStore) credited through ``variants`` (variant_index()).
        ``scope``: "all" pools every placement; a placement name keeps only its feedback."""
        view = cls(variants[["variant_id", "template", "item_id"]].drop_duplicates("variant_id"), scope=scope)
        counts = store.counts_by(["variant_id", "placement"])
        if scope != "all":
            counts = counts[counts["placement"] == scope]
        counts = counts[~counts["holdout"]].merge(view.variants, on="variant_id")
        per_banner = counts.groupby(KEY)[["impressions", "clicks"]].sum()
        view.counts = {k: [int(i), int(c)] for k, (i, c) in zip(per_banner.index, per_banner.to_numpy())}
        view.day = now_us // DAY_US
        shown = store.events_frame(["ts", "user_id", "variant_id"], events=["impression"])
        shown = shown[shown["ts"] // DAY_US == view.day].merge(view.variants, on="variant_id")
        per_user = shown.groupby(["user_id", *KEY]).size()
        view.today = {k: int(n) for k, n in per_user.items()}
        view.user_today = {str(u): int(n) for u, n in per_user.groupby(level=0).sum().items()}
        return view

    def attach(self, store: FeedbackStore) -> FeedbackView:
        """Follow ``store``: every later commit to it moves these counts (once per store)."""
        if not any(s is store for s in self._attached):
            store.subscribe(self.on_commit)
            self._attached.append(store)
        return self

    def record(self, store: FeedbackStore, events: pd.DataFrame,
               source: str = "<events>") -> tuple[IngestCounts, tuple[Reject, ...]]:
        """Validate feedback events (impression, click, conversion), add them to ``store`` and count
        today's impressions for the cap: the next decision in this process sees them, no refit.
        Returns the store's counts and the rejected rows."""
        checked = validate_frame(events, source)
        self.attach(store)
        counts = store.add(checked.frame)
        self.note_impressions(checked.frame, time.time_ns() // 1000)
        return counts, checked.rejects

    def add_variants(self, variants: pd.DataFrame) -> None:
        """Credit feedback on these variants (variant_id, template, item_id) too, e.g. after a render."""
        with self._lock:
            merged = pd.concat([self.variants, variants[["variant_id", "template", "item_id"]]])
            self.variants = merged.drop_duplicates("variant_id").reset_index(drop=True)

    def on_commit(self, delta: pd.DataFrame) -> None:
        """A FeedbackStore listener: ``delta`` has variant_id, placement, impressions, clicks of
        newly committed rows (duplicates already excluded by the store)."""
        if self.scope != "all":
            delta = delta[delta["placement"] == self.scope]
        merged = delta.merge(self.variants, on="variant_id")
        with self._lock:
            for item, template, impressions, clicks in merged[[*KEY, "impressions", "clicks"]].itertuples(index=False):
                slot = self.counts.setdefault((item, template), [0, 0])
                slot[0] += int(impressions)
                slot[1] += int(clicks)
            self.version += 1

    def note_impressions(self, frame: pd.DataFrame, now_us: int) -> None:
        """Count impressions (user_id, variant_id, event, ts) toward today's frequency cap."""
        day = now_us // DAY_US
        shown = frame[(frame["event"] == "impression")].merge(self.variants, on="variant_id")
        with self._lock:
            if day != self.day:
                self.today, self.day, self.user_today = {}, day, {}
            for user, item, template, ts in shown[["user_id", *KEY, "ts"]].itertuples(index=False):
                if int(ts) // DAY_US == day:
                    self.today[(user, item, template)] = self.today.get((user, item, template), 0) + 1
                    self.user_today[user] = self.user_today.get(user, 0) + 1

    def lookup(self, items: np.ndarray, templates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(clicks, impressions) for arrays of item ids and template ids of the same shape."""
        if items.size <= SMALL_LOOKUP:
            found = [self.counts.get(key, (0, 0)) for key in zip(items.ravel().tolist(), templates.ravel().tolist())]
            pairs = np.asarray(found, dtype=np.int64).reshape(items.shape + (2,))
            return pairs[..., 1], pairs[..., 0]
        with self._lock:
            known = dict(self.counts)
        if not known:
            return np.zeros(items.shape, dtype=np.int64), np.zeros(items.shape, dtype=np.int64)
        table = pd.DataFrame(list(known.values()), index=pd.MultiIndex.from_tuples(list(known)), columns=["i", "c"])
        wanted = pd.MultiIndex.from_arrays([items.ravel().astype(object), templates.ravel().astype(object)])
        found = table.reindex(wanted, fill_value=0).to_numpy(dtype=np.int64)
        return found[:, 1].reshape(items.shape), found[:, 0].reshape(items.shape)

    def shown_today(self, user_ids: np.ndarray, items: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """Impressions today per (user, candidate): int (n, k)."""
        n, k = items.shape
        if not self.today:
            return np.zeros(items.shape, dtype=np.int64)
        if items.size <= SMALL_LOOKUP:
            users = np.repeat(np.asarray(user_ids, dtype=object), k).tolist()
            keys = zip(users, items.ravel().tolist(), templates.ravel().tolist())
            return np.asarray([self.today.get(key, 0) for key in keys], dtype=np.int64).reshape(n, k)
        with self._lock:
            known = dict(self.today)
        # Only users with an impression today can be capped: look up their rows alone.
        seen = pd.Index(np.asarray(user_ids, dtype=object)).isin({user for user, _, _ in known})
        out = np.zeros((n, k), dtype=np.int64)
        rows = np.flatnonzero(seen)
        if len(rows):
            table = pd.Series(list(known.values()), index=pd.MultiIndex.from_tuples(list(known)))
            wanted = pd.MultiIndex.from_arrays([
                np.repeat(np.asarray(user_ids, dtype=object)[rows], k),
                items[rows].ravel().astype(object),
                templates[rows].ravel().astype(object),
            ])
            out[rows] = table.reindex(wanted, fill_value=0).to_numpy(dtype=np.int64).reshape(len(rows), k)
        return out
