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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.schema import EVENT_CODES, FEEDBACK_EVENTS, HOLDOUT_POLICY, IngestCounts, Listener
from bannergen.feedback.traffic import invalid_clicks

log = logging.getLogger(__name__)


@contextmanager
def transaction(db: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """One explicit transaction on a connection opened with isolation_level=None: committed when
    the block ends, rolled back when it raises (the error goes on to the caller)."""
    db.execute(begin)
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise

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
ROLLUP_KEYS = ("variant_id", "placement", "policy")
_INSERT = ("INSERT OR IGNORE INTO events (event_id, ts, user_id, variant_id, event, value, cost, placement, "
           "propensity, policy, unknown_variant, decision_id, unknown_decision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
# Columns added to the events table after its first release: added in place when a store is opened.
_ADDED_COLUMNS = {"decision_id": "TEXT NOT NULL DEFAULT ''", "unknown_decision": "INTEGER"}
GROUP_KEYS = ("variant_id", "placement", "policy", "user_id")


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


def _flags(ids: np.ndarray, known: frozenset[str] | None, blank_is_known: bool = False) -> list:
    """Per row: 1 when the id is not in ``known``, 0 when it is, None when not checked (no ``known``)."""
    if known is None:
        return [None] * len(ids)
    unknown = ~pd.Series(ids).isin(known).to_numpy()
    if blank_is_known:
        unknown &= ids != ""
    return unknown.astype(np.int64).tolist()


class SQLiteStore:
    """FeedbackStore on one SQLite file. Not shared across threads; open one per process/thread."""

    def __init__(self, path: Path, timeout: float = 5.0, durable: bool = False) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._listeners: list[Listener] = []
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
        variant = events["variant_id"].to_numpy(dtype=object)
        decision = (events["decision_id"].to_numpy(dtype=object) if "decision_id" in events
                    else np.full(n, "", dtype=object))
        unknown = _flags(variant, known_variants)
        unknown_decision = _flags(decision, known_decisions, blank_is_known=True)
        prop = events["propensity"].to_numpy(dtype=np.float64)
        prop_obj = np.where(np.isnan(prop), np.asarray(None), prop.astype(object)).tolist()
        codes = pd.Series(events["event"].to_numpy()).map(EVENT_CODES).to_numpy(dtype=np.int64)
        rows = zip(
            events["event_id"].tolist(), events["ts"].to_numpy(dtype=np.int64).tolist(), events["user_id"].tolist(),
            variant.tolist(), codes.tolist(), events["value"].to_numpy(dtype=np.float64).tolist(),
            events["cost"].to_numpy(dtype=np.float64).tolist(), events["placement"].tolist(), prop_obj,
            events["policy"].tolist(), unknown, decision.tolist(), unknown_decision,
        )
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
        except sqlite3.Error as exc:
            raise self._env_error(exc, "write to") from exc
        unknown_count = sum(int(r[7] or 0) for r in new)
        unknown_decisions = sum(int(r[8] or 0) for r in new)
        if self._listeners and new:
            delta = pd.DataFrame([r[:5] for r in new], columns=["variant_id", "placement", "policy", "event", "n"])
            delta = delta.pivot_table(index=["variant_id", "placement"], columns="event", values="n", aggfunc="sum",
                                      fill_value=0).reindex(columns=[0, 1, 2], fill_value=0)
            delta.columns = ["impressions", "clicks", "conversions"]
            delta = delta.reset_index()
            for listener in self._listeners:
                listener(delta)
        return IngestCounts(accepted=accepted, duplicate=n - accepted, unknown_variant=unknown_count,
                            unknown_decision=unknown_decisions)

    def _rebuild_rollup(self) -> None:
        """Recount the rollup from the events (a store written before the rollup existed)."""
        with transaction(self._db) as db:
            db.execute("DELETE FROM rollup")
            db.execute("INSERT INTO rollup SELECT variant_id, placement, policy, event, count(*), sum(value), "
                       "sum(cost) FROM events GROUP BY 1, 2, 3, 4")

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(delta)`` after every committed add() in this process (see store.Listener)."""
        self._listeners.append(listener)

    # --- reading ---------------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._env_error(exc, "read") from exc

    def count(self) -> int:
        return int(self._query("SELECT count(*) FROM events")[0][0])

    def counts_by(self, keys: Sequence[str]) -> pd.DataFrame:
        """Counts per combination of ``keys`` (from variant_id, placement, policy, user_id) and
        holdout (bool: policy == "holdout").

        Columns: *keys, holdout, raw_impressions, raw_clicks, impressions, clicks (filtered),
        conversions, revenue, cost. Aggregated in SQL; only clicks and the impressions of the pairs
        that have clicks come back to Python, to find invalid clicks.
        """
        keys = list(keys)
        bad = [k for k in keys if k not in GROUP_KEYS]
        if bad:
            raise ValueError(f"unknown group keys {bad}; expected some of {GROUP_KEYS}")
        sel = ", ".join([*keys, "policy = ?"])
        table, n = ("rollup", "n") if set(keys) <= set(ROLLUP_KEYS) else ("events", "1")
        rows = self._query(
            f"SELECT {sel}, sum(CASE WHEN event = 0 THEN {n} ELSE 0 END), "
            f"sum(CASE WHEN event = 1 THEN {n} ELSE 0 END), "
            f"sum(CASE WHEN event = 2 THEN {n} ELSE 0 END), sum(CASE WHEN event = 2 THEN value ELSE 0 END), "
            f"sum(cost) FROM {table} GROUP BY {sel}",
            (HOLDOUT_POLICY, HOLDOUT_POLICY))
        cols = [*keys, "holdout", "raw_impressions", "raw_clicks", "conversions", "revenue", "cost"]
        counts = pd.DataFrame(rows, columns=cols)
        counts["holdout"] = counts["holdout"].astype(bool)
        for c in ("raw_impressions", "raw_clicks", "conversions"):
            counts[c] = counts[c].astype(np.int64)
        for c in ("revenue", "cost"):
            counts[c] = counts[c].astype(np.float64)
        invalid = self._invalid_click_counts(keys)
        counts = counts.merge(invalid, on=[*keys, "holdout"], how="left")
        counts["invalid_clicks"] = counts["invalid_clicks"].fillna(0).astype(np.int64)
        counts["impressions"] = counts["raw_impressions"]
        counts["clicks"] = counts["raw_clicks"] - counts["invalid_clicks"]
        return counts.drop(columns="invalid_clicks")

    def _invalid_click_counts(self, keys: list[str]) -> pd.DataFrame:
        extra = [k for k in keys if k not in ("user_id", "variant_id")]
        cols = ["user_id", "variant_id", "event", "ts", *extra, "policy"]
        rows = self._query(
            f"SELECT {', '.join(dict.fromkeys(cols))} FROM events WHERE event IN (0, 1) AND (user_id, variant_id) IN "
            "(SELECT user_id, variant_id FROM events WHERE event = 1)")
        frame = pd.DataFrame(rows, columns=list(dict.fromkeys(cols)))
        frame["holdout"] = frame["policy"] == HOLDOUT_POLICY
        frame["invalid_clicks"] = invalid_clicks(frame).astype(np.int64) if len(frame) else 0
        return frame.groupby([*keys, "holdout"], as_index=False, sort=False)["invalid_clicks"].sum()

    def daily_counts(self, variant_ids: Sequence[str]) -> pd.DataFrame:
        """Raw impressions and clicks per UTC day for ``variant_ids`` (holdout excluded):
        day (datetime64, UTC midnight), variant_id, impressions, clicks."""
        ids = list(variant_ids)
        if not ids:
            return pd.DataFrame(columns=["day", "variant_id", "impressions", "clicks"])
        rows = self._query(
            f"SELECT ts / 86400000000, variant_id, sum(event = 0), sum(event = 1) FROM events "
            f"WHERE event IN (0, 1) AND policy != ? AND variant_id IN ({', '.join('?' * len(ids))}) GROUP BY 1, 2",
            (HOLDOUT_POLICY, *ids))
        frame = pd.DataFrame(rows, columns=["day", "variant_id", "impressions", "clicks"])
        frame["day"] = pd.to_datetime(frame["day"].astype(np.int64), unit="D", utc=True)
        return frame

    def variant_counts(self) -> pd.DataFrame:
        """Per variant, holdout rows excluded: variant_id, impressions, clicks, conversions, revenue,
        cost (filtered), raw_impressions, raw_clicks. Sorted by variant_id."""
        counts = self.counts_by(["variant_id"])
        counts = counts[~counts["holdout"]].drop(columns="holdout")
        return counts[["variant_id", "impressions", "clicks", "conversions", "revenue", "cost",
                       "raw_impressions", "raw_clicks"]].sort_values("variant_id").reset_index(drop=True)

    def events_frame(self, columns: Sequence[str] | None = None,
                     events: Sequence[str] | None = None) -> pd.DataFrame:
        """Stored events (in storage order) as a feedback frame, plus ``unknown_variant`` and
        ``unknown_decision``. ``columns`` picks columns; ``events`` keeps only those event types."""
        cols = list(columns or ["event_id", "ts", "user_id", "variant_id", "event", "value", "cost",
                                "placement", "propensity", "policy", "decision_id", "unknown_variant",
                                "unknown_decision"])
        where, params = "", tuple[int, ...]()
        if events:
            where = f" WHERE event IN ({', '.join('?' * len(events))})"
            params = tuple(EVENT_CODES[e] for e in events)
        frame = pd.DataFrame(self._query(f"SELECT {', '.join(cols)} FROM events{where} ORDER BY rowid", params),
                             columns=cols)
        if "event" in frame:
            frame["event"] = np.asarray(FEEDBACK_EVENTS, dtype=object)[frame["event"].to_numpy(dtype=np.int64)]
        if "propensity" in frame:
            frame["propensity"] = frame["propensity"].astype(np.float64)
        if "ts" in frame:
            frame["ts"] = frame["ts"].astype(np.int64)
        return frame

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
