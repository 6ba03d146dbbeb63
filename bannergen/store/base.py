"""What the HTTP service keeps besides feedback: behaviour events and the decision log.

Feedback (impressions, clicks, conversions) lives behind bannergen.feedback.store.FeedbackStore;
BehaviourStore is the other half of a backend. Each backend (bannergen.store.sqlite_behaviour,
bannergen.store.postgres) implements both, and both halves of one backend order their rows by a
commit sequence (``last_seq``, ``changes_since``), which is how a process follows what the others
commit (bannergen.service.follow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class BehaviourEvent:
    """One behaviour event as the service received it (checked already)."""

    event_id: str
    ts: int  # microseconds since the epoch, UTC
    user_id: str
    event: str  # view, search, cart, purchase
    item_id: str = ""
    query: str = ""


BEHAVIOUR_COLUMNS = ("event_id", "ts", "user_id", "event", "item_id", "query")
DECISION_COLUMNS = ("decision_id", "ts", "user_id", "placement", "size", "variant_id", "item_id", "template", "policy",
                    "propensity", "score", "explanation")
CANDIDATE_LOG_COLUMNS = ("decision_id", "position", "item_id", "template", "antecedent_id", "score", "probability",
                         "chosen")

# The decision log's tables; each backend names its own integer and float types.
DECISION_TABLES = """
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    ts {integer} NOT NULL,      -- microseconds since the epoch, UTC
    user_id TEXT NOT NULL,
    placement TEXT NOT NULL,
    size TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    template TEXT NOT NULL,
    policy TEXT NOT NULL,
    propensity {real} NOT NULL,
    score {real},               -- NULL for a pin or default banner
    explanation TEXT NOT NULL DEFAULT ''
);
-- Every candidate a served decision was drawn from, with its probability (off-policy evaluation).
CREATE TABLE IF NOT EXISTS decision_candidates (
    decision_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT NOT NULL,
    template TEXT NOT NULL,
    antecedent_id TEXT NOT NULL,
    score {real},
    probability {real} NOT NULL,
    chosen INTEGER NOT NULL,
    PRIMARY KEY (decision_id, position)
);
"""
# The decision log both backends return (bannergen.ope.decision_log reads the same tables).
DECISION_LOG_SQL = (
    "SELECT c.decision_id, d.user_id, c.position, c.item_id, c.template, c.antecedent_id, c.score, c.probability, "
    "c.chosen = 1 AS chosen, d.policy, d.ts, d.placement, d.size FROM decision_candidates c "
    "JOIN decisions d USING (decision_id) ORDER BY d.ts, c.decision_id, c.position")


# Forgetting users and dropping old rows: the same statements on both backends ({users} is a list of
# placeholders on SQLite, ``= ANY(%s)`` on PostgreSQL). Candidates go first: they are found through
# their decision's user and time.
FORGET_DECISIONS = (
    "DELETE FROM decision_candidates WHERE decision_id IN (SELECT decision_id FROM decisions WHERE user_id {users})",
    "DELETE FROM decisions WHERE user_id {users}",
)
FORGET_BEHAVIOUR = "DELETE FROM behaviour WHERE user_id {users}"
COMPACT_DECISIONS = (
    "DELETE FROM decision_candidates WHERE decision_id IN (SELECT decision_id FROM decisions WHERE ts < ?)",
    "DELETE FROM decisions WHERE ts < ?",
)
COMPACT_BEHAVIOUR = "DELETE FROM behaviour WHERE ts < ?"
# A re-key: (new pseudonym, old pseudonym) pairs.
REKEY_BEHAVIOUR = ("UPDATE behaviour SET user_id = ? WHERE user_id = ?",
                   "UPDATE decisions SET user_id = ? WHERE user_id = ?")


@dataclass(frozen=True)
class Erased:
    """Rows a forget or a compaction removed, by table."""

    behaviour: int = 0
    decisions: int = 0
    candidates: int = 0
    feedback: int = 0

    @property
    def total(self) -> int:
        return self.behaviour + self.decisions + self.candidates + self.feedback

    def __add__(self, other: Erased) -> Erased:
        return Erased(self.behaviour + other.behaviour, self.decisions + other.decisions,
                      self.candidates + other.candidates, self.feedback + other.feedback)


@runtime_checkable
class BehaviourStore(Protocol):
    """Behaviour events and the decision log of the HTTP service.

    add(events)          commit ``events`` (one transaction, deduplicated by event id) before returning
                         the new ones; raises EnvironmentFailure when the store cannot be written
    all()                every stored event, in commit order (replayed at start-up)
    changes_since(seq)   (events committed after ``seq`` by any process, the newest seq)
    own_commits          sequence ranges (after, upto] this object committed, for a follower to skip
    log_decisions(rows, candidates)  append decision rows (DECISION_COLUMNS) and their candidates
                         (CANDIDATE_LOG_COLUMNS); raises EnvironmentFailure when it cannot
    decision(id)         (user_id, placement, variant_id, policy, propensity) of a logged decision
    decision_log()       every logged candidate (bannergen.ope.decision_log.DECISION_LOG_COLUMNS)
    forget(pseudonyms)   delete every behaviour event and logged decision of these users, so the bytes
                         are gone from the files too (SQLite: secure_delete and a checkpoint); -> Erased
    compact(before_us)   delete behaviour events and logged decisions older than ``before_us``; -> Erased
    rekey(pairs)         (new, old) pseudonym pairs: every row of old becomes new's; -> rows changed
    """

    own_commits: list[tuple[int, int]]

    def add(self, events: list[BehaviourEvent]) -> list[BehaviourEvent]: ...

    def all(self) -> list[BehaviourEvent]: ...

    def last_seq(self) -> int: ...

    def changes_since(self, seq: int, limit: int = 50_000) -> tuple[list[tuple[int, BehaviourEvent]], int]: ...

    def log_decisions(self, rows: list[tuple], candidates: list[tuple] | None = None) -> None: ...

    def decision(self, decision_id: str) -> tuple | None: ...

    def decision_log(self) -> pd.DataFrame: ...

    def forget(self, pseudonyms: list[str]) -> Erased: ...

    def compact(self, before_us: int) -> Erased: ...

    def rekey(self, pairs: list[tuple[str, str]]) -> int: ...

    def close(self) -> None: ...
