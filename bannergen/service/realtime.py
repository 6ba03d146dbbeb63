"""Real-time behaviour: rescoring of only the users that view/search/cart/purchase events are about.

A user's interest is rebuilt from their own events: the base events of the loaded shop (a slice
of the events frame sorted by user, found by precomputed offsets) plus the live ones, through the
same ``build_profiles`` and ``ContentScorer`` as the batch model, decayed to the model's ``as_of``
(a live event newer than that counts at full weight) and scored against the model's global
popularity. The small model goes through ``Model.candidates`` like the batch one, so rules,
template bonuses and any scorer blend apply unchanged.

Storage (durable, deduplicated, replayed at start-up) is a BehaviourStore (bannergen.store).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.profile import build_profiles
from bannergen.scorers.base import build_interactions
from bannergen.scorers.content import ContentScorer
from bannergen.segments import ProfileSummary
from bannergen.selection.candidate_set import user_candidates
from bannergen.store.base import BehaviourEvent

if TYPE_CHECKING:
    from bannergen.model import Model
    from bannergen.segments import Segment
    from bannergen.selection.kernel import CandidateSet
    from bannergen.selection.settings import PolicySettings

log = logging.getLogger(__name__)

class UserRescorer:
    """Recomputes the candidates of a few users from their base and live events."""

    def __init__(self, model: Model, events: pd.DataFrame, policy: PolicySettings,
                 segments: dict[str, Segment]) -> None:
        self.model = model
        self.policy_settings = policy
        self.segments = segments
        users = events["user_id"].to_numpy(dtype=object)
        order = np.argsort(users, kind="stable")
        self.base = events.iloc[order].reset_index(drop=True)
        self._sorted_users = users[order]
        self.live: dict[str, list[BehaviourEvent]] = {}
        self.item_index = model.features.item_ids

    def add_live(self, events: Iterable[BehaviourEvent]) -> set[str]:
        touched = set()
        for e in events:
            self.live.setdefault(e.user_id, []).append(e)
            touched.add(e.user_id)
        return touched

    def drop_users(self, user_ids: set[str]) -> None:
        """Forget these users' base and live events (a forget or an opt-out)."""
        for user in user_ids:
            self.live.pop(user, None)
        keep = ~np.isin(self._sorted_users, list(user_ids))
        if not keep.all():
            self.base = self.base[keep].reset_index(drop=True)
            self._sorted_users = self._sorted_users[keep]

    def events_of(self, user_ids: list[str]) -> pd.DataFrame:
        """Base plus live events of ``user_ids`` (events frame schema)."""
        lo = np.searchsorted(self._sorted_users, user_ids, side="left")
        hi = np.searchsorted(self._sorted_users, user_ids, side="right")
        parts = [self.base.iloc[a:b] for a, b in zip(lo, hi) if b > a]
        live = [e for u in user_ids for e in self.live.get(u, ())]
        if live:
            parts.append(pd.DataFrame({
                "user_id": [e.user_id for e in live],
                "item_id": [e.item_id for e in live],
                "event": [e.event for e in live],
                "ts": pd.to_datetime([e.ts for e in live], unit="us", utc=True).as_unit("ns"),
                "query": [e.query for e in live],
            }).astype({c: self.base[c].dtype for c in ("user_id", "item_id", "event", "query")}))
        if not parts:
            return self.base.iloc[:0]
        return pd.concat(parts, ignore_index=True)

    def rescore(self, user_ids: Iterable[str]) -> dict[str, CandidateSet]:
        """Fresh candidate sets for ``user_ids`` (users with no events at all are left out)."""
        users = sorted(set(user_ids))
        frame = self.events_of(users)
        if frame.empty:
            return {}
        m = self.model
        profiles = build_profiles(frame, m.features, m.settings.weights, m.profiles.as_of)
        # Popularity is the shop's, not these few users'.
        profiles = replace(profiles, popularity=m.profiles.popularity)
        scorer = ContentScorer(m.settings.weights).fit(profiles, m.features)
        small = replace(m, profiles=profiles, scorer=scorer, summary=ProfileSummary.of(profiles, m.features))
        blend = getattr(m, "blend", None)
        if blend is not None and getattr(m, "interactions", None) is not None:
            # The blend reads the user side from its Interactions: build them for these users, and give
            # the blend its own content scorer (the shared one must not rebind to these few users).
            data = build_interactions(frame, m.features.item_ids, m.profiles.as_of, user_ids=profiles.user_ids,
                                      titles=m.catalog["title"])
            scorers = dict(blend.scorers)
            if "content" in scorers:
                scorers["content"] = scorer
            small = replace(small, interactions=data.with_content(profiles, m.features),
                            blend=type(blend)(scorers, blend.weights, blend.cold_start))
        return user_candidates(small, np.arange(profiles.n_users), self.policy_settings, self.segments)
