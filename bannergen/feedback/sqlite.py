"""The SQLite implementation of FeedbackStore: one file, WAL journal, bulk inserts.

Durability: every add() is one transaction (BEGIN IMMEDIATE ... COMMIT) per chunk, and ingest
acknowledges (prints or returns counts) only after COMMIT returned. With journal_mode=WAL and
synchronous=NORMAL, COMMIT appends the transaction's pages to the -wal file with write(2) before
returning; it skips only the fsync. The bytes are then in the operating system's page cache,
which belongs to the kernel, not the process: kill -9 of the ingesting process cannot lose them,
and the next open replays the WAL. Only an OS crash or power cut can lose the last transactions
(never corrupt the file); pass ``durable=True`` (synchronous=FULL) when that matters too.

Concurrency: WAL lets reports read while an ingest writes. Writers queue on SQLite's lock for
``timeout`` seconds (busy_timeout), then fail with EnvironmentFailure (exit 3): we wait-then-fail
rather than retry forever, so a stuck writer is reported, never hidden.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.queries import FORGET_FEEDBACK, REKEY_FEEDBACK, FeedbackQueries, stored_columns
from bannergen.feedback.schema import IngestCounts, Listener
from bannergen.sqlite_erase import transaction as transaction  # re-exported: the stores' one transaction helper

log = logging.getLogger(__name__)



SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,            -- microseconds since the epoch, UTC
    user_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    event INTEGER NOT NULL,         -- 0 impression, 1 click, 2 conversion
    value REAL NOT NULL,
    cost REAL NOT NULL,
    placement TEXT NOT NULL,
    propensity REAL,                -- NULL when the logger did not record it
    policy TEXT NOT NULL,
    unknown_variant INTEGER,        -- 1 not in any manifest at ingest, 0 known, NULL not checked
    decision_id TEXT NOT NULL DEFAULT '',  -- "" when the CMS did not echo one
    unknown_decision INTEGER        -- 1 in no decision log at ingest, 0 known, NULL not checked
);
-- Raw counts kept up to date by add(), in the same transaction as the rows they count, so a
-- per-variant report never scans the events (a GROUP BY over 1M rows costs seconds).
CREATE TABLE IF NOT EXISTS rollup (
    variant_id TEXT NOT NULL,
    placement TEXT NOT NULL,
    policy TEXT NOT NULL,
    event INTEGER NOT NULL,
    n INTEGER NOT NULL,
    value REAL NOT NULL,
    cost REAL NOT NULL,
    PRIMARY KEY (variant_id, placement, policy, event)
);
"""
_ROLLUP_DELTA = ("SELECT variant_id, placement, policy, event, count(*), sum(value), sum(cost), "
                 "sum(unknown_variant = 1), sum(unknown_decision = 1) FROM events WHERE rowid > ? GROUP BY 1, 2, 3, 4")
_ROLLUP_UPSERT = ("INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (variant_id, placement, policy, event) "
                  "DO UPDATE SET n = n + excluded.n, value = value + excluded.value, cost = cost + excluded.cost")
_INSERT = ("INSERT OR IGNORE INTO events (event_id, ts, user_id, variant_id, event, value, cost, placement, "
           "propensity, policy, unknown_variant, decision_id, unknown_decision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
# Columns added to the events table after its first release: added in place when a store is opened.
_ADDED_COLUMNS = {"decision_id": "TEXT NOT NULL DEFAULT ''", "unknown_decision": "INTEGER"}


def _rollup_rows(events: pd.DataFrame, codes: np.ndarray, unknown: list, unknown_decision: list) -> list[tuple]:
    """The rows _ROLLUP_DELTA would return for ``events``, aggregated in pandas (no table scan)."""
    frame = pd.DataFrame({"variant_id": events["variant_id"].to_numpy(), "placement": events["placement"].to_numpy(),
                          "policy": events["policy"].to_numpy(), "event": codes,
                          "value": events["value"].to_numpy(np.float64), "cost": events["cost"].to_numpy(np.float64),
                          "unknown": pd.array(unknown, dtype="float64").fillna(0).to_numpy(),
                          "unknown_decision": pd.array(unknown_decision, dtype="float64").fillna(0).to_numpy()})
    g = frame.groupby(["variant_id", "placement", "policy", "event"], sort=False)
    agg = g.agg(n=("value", "size"), value=("value", "sum"), cost=("cost", "sum"), unknown=("unknown", "sum"),
                unknown_decision=("unknown_decision", "sum"))
    return [(v, p, pol, int(e), int(c), float(val), float(cost), int(u), int(d))
            for (v, p, pol, e), c, val, cost, u, d in agg.itertuples(name=None)]


class SQLiteStore(FeedbackQueries):
    """FeedbackStore on one SQLite file. Not shared across threads; open one per process/thread."""

    def __init__(self, path: Path, timeout: float = 5.0, durable: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._listeners: list[Listener] = []
        # Rowid ranges committed by this store, so a follower of the file skips what this process
        # has counted already (writers are serialized by BEGIN IMMEDIATE: a commit's rowids are contiguous).
        self.own_commits: list[tuple[int, int]] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("%s: journal mode is %s, not WAL; readers may block the ingest", self.path, mode)
            self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA cache_size = -262144")  # 256 MiB: the event_id index stays in memory
            self._db.execute("PRAGMA temp_store = MEMORY")
            # Checkpoint every ~40 MB of WAL instead of 4 MB: fewer, larger copies into the file.
            self._db.execute("PRAGMA wal_autocheckpoint = 10000")
            self._db.executescript(SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:  # a store written before the column existed
                    self._db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
            if (self._db.execute("SELECT NOT EXISTS (SELECT 1 FROM rollup)").fetchone()[0]
                    and self._db.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone()[0]):
                self._rebuild_rollup()
        except sqlite3.Error as exc:
            raise self._env_error(exc, "open") from exc

    # --- writing ---------------------------------------------------------------------------------

    def add(self, events: pd.DataFrame, known_variants: frozenset[str] | None = None,
            known_decisions: frozenset[str] | None = None) -> IngestCounts:
        """Store a validated feedback frame in one transaction. Rows whose event_id is stored
        already (or repeats earlier in ``events``) count as duplicates; the first one wins.
        ``known_variants`` flags the rows whose variant is not in it, ``known_decisions`` those
        whose decision id is set but not in it (None: not checked). Flagged rows are kept."""
        n = len(events)
        if n == 0:
            return IngestCounts()
        columns = stored_columns(events, known_variants, known_decisions)
        codes, unknown, unknown_decision = np.asarray(columns[4], dtype=np.int64), columns[10], columns[12]
        rows = zip(*columns)
        db = self._db
        try:
            with transaction(db):
                before = db.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()[0]
                changes = db.total_changes
                db.executemany(_INSERT, rows)
                accepted = db.total_changes - changes
                # New rows have rowids above `before`: the rollup, the listeners' delta and the
                # unknown-variant count come from them alone, whichever ids were duplicates.
                if accepted == n:  # no duplicates (the usual fresh ingest): the new rows are `events`
                    new = _rollup_rows(events, codes, unknown, unknown_decision)
                else:
                    new = db.execute(_ROLLUP_DELTA, (before,)).fetchall() if accepted else []
                db.executemany(_ROLLUP_UPSERT, [r[:7] for r in new])
                if accepted:
                    self.own_commits.append((before, before + accepted))  # rowids (before, before + accepted]
        except sqlite3.Error as exc:
            raise self._env_error(exc, "write to") from exc
        unknown_count = sum(int(r[7] or 0) for r in new)
        unknown_decisions = sum(int(r[8] or 0) for r in new)
        self._notify(new)
        return IngestCounts(accepted=accepted, duplicate=n - accepted, unknown_variant=unknown_count,
                            unknown_decision=unknown_decisions)

    def forget(self, pseudonyms: list[str]) -> int:
        """Delete these users' events (the rollup keeps its totals), scrubbed from the file."""
        from bannergen.sqlite_erase import erase_users

        try:
            return erase_users(self._db, [FORGET_FEEDBACK], pseudonyms)[0]
        except sqlite3.Error as exc:
            raise self._env_error(exc, "delete from") from exc

    def rekey(self, pairs: list[tuple[str, str]]) -> int:
        """(new, old) pseudonym pairs: every event of old becomes new's."""
        from bannergen.sqlite_erase import rename_users

        try:
            return rename_users(self._db, [REKEY_FEEDBACK], pairs)
        except sqlite3.Error as exc:
            raise self._env_error(exc, "write to") from exc

    def _rebuild_rollup(self) -> None:
        """Recount the rollup from the events (a store written before the rollup existed)."""
        with transaction(self._db) as db:
            db.execute("DELETE FROM rollup")
            db.execute("INSERT INTO rollup SELECT variant_id, placement, policy, event, count(*), sum(value), "
                       "sum(cost) FROM events GROUP BY 1, 2, 3, 4")

    # --- reading (bannergen.feedback.queries) ---------------------------------------------------

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._env_error(exc, "read") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _env_error(self, exc: sqlite3.Error, action: str) -> EnvironmentFailure:
        text = str(exc)
        if "locked" in text or "busy" in text:
            return EnvironmentFailure(
                f"feedback store {self.path} is locked by another process (waited {self.timeout:g}s)",
                hint="wait for the other ingest to finish, or pass --store to use another file")
        return EnvironmentFailure(f"cannot {action} feedback store {self.path}: {text}")
