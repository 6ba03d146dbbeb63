"""The SQLite BehaviourStore: behaviour events and the decision log in one WAL file.

Durability: events are committed (WAL, synchronous=FULL) before the service answers 202. Several
processes may open the same file (WAL allows it); writers are serialized by BEGIN IMMEDIATE, so
the rowids of one commit are contiguous and a follower can tell its own commits from the others'.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.sqlite import transaction
from bannergen.store.base import (
    BEHAVIOUR_COLUMNS,
    COMPACT_BEHAVIOUR,
    COMPACT_DECISIONS,
    DECISION_LOG_SQL,
    DECISION_TABLES,
    FORGET_BEHAVIOUR,
    FORGET_DECISIONS,
    REKEY_BEHAVIOUR,
    BehaviourEvent,
    Erased,
)

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
""" + DECISION_TABLES.format(integer="INTEGER", real="REAL")
# Columns added to the decisions table after its first release: added in place on open.
_ADDED_DECISION_COLUMNS = {"score": "REAL", "explanation": "TEXT NOT NULL DEFAULT ''"}


class SQLiteBehaviourStore:
    """BehaviourStore on one SQLite WAL file. One writer thread owns it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.own_commits: list[tuple[int, int]] = []
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
                before = db.execute("SELECT coalesce(max(rowid), 0) FROM behaviour").fetchone()[0]
                for e in events:
                    cur = db.execute("INSERT OR IGNORE INTO behaviour VALUES (?, ?, ?, ?, ?, ?)",
                                     (e.event_id, e.ts, e.user_id, e.event, e.item_id, e.query))
                    if cur.rowcount == 1:
                        new.append(e)
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot write behaviour store {self.path}: {exc}") from exc
        if new:
            self.own_commits.append((before, before + len(new)))
        return new

    def all(self) -> list[BehaviourEvent]:
        rows = self._db.execute(f"SELECT {', '.join(BEHAVIOUR_COLUMNS)} FROM behaviour ORDER BY rowid").fetchall()
        return [BehaviourEvent(*r) for r in rows]

    def last_seq(self) -> int:
        try:
            return int(self._db.execute("SELECT coalesce(max(rowid), 0) FROM behaviour").fetchone()[0])
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot read behaviour store {self.path}: {exc}") from exc

    def changes_since(self, seq: int, limit: int = 50_000) -> tuple[list[tuple[int, BehaviourEvent]], int]:
        try:
            rows = self._db.execute(f"SELECT rowid, {', '.join(BEHAVIOUR_COLUMNS)} FROM behaviour WHERE rowid > ? "
                                    "ORDER BY rowid LIMIT ?", (seq, limit)).fetchall()
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot read behaviour store {self.path}: {exc}") from exc
        return [(r[0], BehaviourEvent(*r[1:])) for r in rows], (rows[-1][0] if rows else seq)

    def log_decisions(self, rows: list[tuple], candidates: list[tuple] | None = None) -> None:
        """Append decision records (DECISION_COLUMNS) and their candidates (CANDIDATE_LOG_COLUMNS)."""
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
            raise EnvironmentFailure(f"cannot write the decision log {self.path}: {exc}") from exc

    def decision_log(self) -> pd.DataFrame:
        """Every logged candidate of every served decision, in the batch log's columns
        (bannergen.selection.kernel.CANDIDATE_COLUMNS) plus ts, placement and size."""
        return pd.read_sql_query(DECISION_LOG_SQL, self._db).astype({"chosen": bool})

    def decision(self, decision_id: str) -> tuple | None:
        return self._db.execute(
            "SELECT user_id, placement, variant_id, policy, propensity FROM decisions WHERE decision_id = ?",
            (decision_id,)).fetchone()

    def forget(self, pseudonyms: list[str]) -> Erased:
        """Delete these users' behaviour events and logged decisions, scrubbed from the file."""
        from bannergen.sqlite_erase import erase_users

        return self._erase(erase_users, [*FORGET_DECISIONS, FORGET_BEHAVIOUR], pseudonyms)

    def compact(self, before_us: int) -> Erased:
        """Delete behaviour events and logged decisions older than ``before_us``."""
        from bannergen.sqlite_erase import erase_older

        return self._erase(erase_older, [*COMPACT_DECISIONS, COMPACT_BEHAVIOUR], before_us)

    def rekey(self, pairs: list[tuple[str, str]]) -> int:
        """(new, old) pseudonym pairs: every behaviour event and decision of old becomes new's."""
        from bannergen.sqlite_erase import rename_users

        try:
            return rename_users(self._db, REKEY_BEHAVIOUR, pairs)
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot write behaviour store {self.path}: {exc}") from exc

    def _erase(self, erase: Callable[..., list[int]], statements: list[str], argument: object) -> Erased:
        """Run ``erase`` (bannergen.sqlite_erase) over the candidates, decisions and behaviour statements."""
        try:
            candidates, decisions, behaviour = erase(self._db, statements, argument)
        except sqlite3.Error as exc:
            raise EnvironmentFailure(f"cannot delete from behaviour store {self.path}: {exc}") from exc
        return Erased(behaviour=behaviour, decisions=decisions, candidates=candidates)

    def close(self) -> None:
        self._db.close()
