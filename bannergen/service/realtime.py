"""Real-time behaviour: durable storage of view/search/cart/purchase events, and rescoring of only
the users they are about.

A user's interest is rebuilt from their own events: the base events of the loaded shop (a slice
of the events frame sorted by user, found by precomputed offsets) plus the live ones, through the
same ``build_profiles`` and ``ContentScorer`` as the batch model, decayed to the model's ``as_of``
(a live event newer than that counts at full weight) and scored against the model's global
popularity. The small model goes through ``Model.candidates`` like the batch one, so rules,
template bonuses and any scorer blend apply unchanged.

Durability: events are committed (SQLite WAL, synchronous=FULL) before the service answers 202,
deduplicated by event id, and replayed at start-up. Not thread-safe: one writer thread owns it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.sqlite import transaction
from bannergen.profile import build_profiles
from bannergen.scorers.base import build_interactions
from bannergen.scorers.content import ContentScorer
from bannergen.segments import ProfileSummary
from bannergen.selection.candidate_set import user_candidates

if TYPE_CHECKING:
    from bannergen.model import Model
    from bannergen.segments import Segment
    from bannergen.selection.kernel import CandidateSet
    from bannergen.selection.settings import PolicySettings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS behaviour (
    event_id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,        -- microseconds since the epoch, UTC
    user_id TEXT NOT NULL,
    event TEXT NOT NULL,        -- view, search, cart, purchase
    item_id TEXT NOT NULL,      -- "" for a search
    query TEXT NOT NULL         -- "" unless a search
);
CREATE INDEX IF NOT EXISTS behaviour_user ON behaviour (user_id);
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    ts INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    placement TEXT NOT NULL,
    size TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    template TEXT NOT NULL,
    policy TEXT NOT NULL,
    propensity REAL NOT NULL,
    score REAL,                 -- NULL for a pin or default banner
    explanation TEXT NOT NULL DEFAULT ''
);
-- Every candidate a served decision was drawn from, with its probability (off-policy evaluation).
CREATE TABLE IF NOT EXISTS decision_candidates (
    decision_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    template TEXT NOT NULL,
    antecedent_id TEXT NOT NULL,
    score REAL,
    probability REAL NOT NULL,
    chosen INTEGER NOT NULL,
    PRIMARY KEY (decision_id, position)
);
"""
# Columns added to the decisions table after its first release: added in place on open.
_ADDED_DECISION_COLUMNS = {"score": "REAL", "explanation": "TEXT NOT NULL DEFAULT ''"}
COLUMNS = ("event_id", "ts", "user_id", "event", "item_id", "query")


@dataclass(frozen=True)
class BehaviourEvent:
    """One behaviour event as the service received it (checked already)."""

    event_id: str
    ts: int  # microseconds since the epoch, UTC
    user_id: str
    event: str  # view, search, cart, purchase
    item_id: str = ""
    query: str = ""


class BehaviourLog:
    """The behaviour table (and the decision log) in one SQLite WAL file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")  # 202 means on disk, even across a power cut
            self._db.executescript(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(decisions)")}
            for column, kind in _ADDED_DECISION_COLUMNS.items():
                if column not in present:
                    self._db.execute(f"ALTER TABLE decisions ADD COLUMN {column} {kind}")
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot open behaviour store {self.path}: {exc}") from exc

    def add(self, events: list[BehaviourEvent]) -> list[BehaviourEvent]:
        """Store ``events`` in one transaction; returns those that were new (by event id)."""
        new = []
        try:
            with transaction(self._db) as db:
                for e in events:
                    cur = db.execute("INSERT OR IGNORE INTO behaviour VALUES (?, ?, ?, ?, ?, ?)",
                                     (e.event_id, e.ts, e.user_id, e.event, e.item_id, e.query))
                    if cur.rowcount == 1:
                        new.append(e)
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot write behaviour store {self.path}: {exc}") from exc
        return new

    def all(self) -> list[BehaviourEvent]:
        rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM behaviour ORDER BY rowid").fetchall()
        return [BehaviourEvent(*r) for r in rows]

    def log_decisions(self, rows: list[tuple], candidates: list[tuple] | None = None) -> None:
        """Append decision records (decision_id, ts, user_id, placement, size, variant_id, item_id,
        template, policy, propensity, score, explanation) and their candidates (decision_id,
        position, item_id, template, antecedent_id, score, probability, chosen); best effort,
        batched by the caller."""
        if not rows:
            return
        try:
            with transaction(self._db, "BEGIN") as db:
                db.executemany("INSERT OR IGNORE INTO decisions (decision_id, ts, user_id, placement, size, "
                               "variant_id, item_id, template, policy, propensity, score, explanation) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                db.executemany("INSERT OR IGNORE INTO decision_candidates VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               candidates or [])
        except sqlite3.Error as exc:
            log.warning("decision log %s: %s", self.path, exc)

    def decision_log(self) -> pd.DataFrame:
        """Every logged candidate of every served decision, in the batch log's columns
        (bannergen.selection.kernel.CANDIDATE_COLUMNS) plus ts, placement and size."""
        return read_decision_log(self._db)

    def decision(self, decision_id: str) -> tuple | None:
        return self._db.execute(
            "SELECT user_id, placement, variant_id, policy, propensity FROM decisions WHERE decision_id = ?",
            (decision_id,)).fetchone()

    def close(self) -> None:
        self._db.close()


def read_decision_log(db: sqlite3.Connection) -> pd.DataFrame:
    """The decision log of a behaviour store connection (see BehaviourLog.decision_log)."""
    return pd.read_sql_query(
        "SELECT c.decision_id, d.user_id, c.position, c.item_id, c.template, c.antecedent_id, c.score, c.probability, "
        "c.chosen = 1 AS chosen, d.policy, d.ts, d.placement, d.size FROM decision_candidates c "
        "JOIN decisions d USING (decision_id) ORDER BY d.ts, c.decision_id, c.position", db).astype({"chosen": bool})


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
