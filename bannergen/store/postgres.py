"""The PostgreSQL backend: feedback, behaviour events and the decision log in one database, shared
by every process and machine that serves the shop.

psycopg 3 with a psycopg_pool connection pool. Each write is one transaction, committed before
the caller acknowledges anything (ingest prints counts, the service answers 202). Writers of a
table take a transaction-level advisory lock first, so commits happen in ``seq`` order and a
process that follows the table by ``seq`` (bannergen.service.follow) never skips a row committed
late. Every database error becomes EnvironmentFailure (exit 3; a 503 in the service); the pool
checks a connection before lending it, so the store reconnects by itself once the database is back.

    >>> db = PostgresDatabase.connect("postgresql://bannergen@db.internal/shop")  # doctest: +SKIP
    >>> PostgresFeedbackStore(db).count()  # doctest: +SKIP
    0
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bannergen.errors import EnvironmentFailure
from bannergen.feedback.queries import FORGET_FEEDBACK, REKEY_FEEDBACK, FeedbackQueries, stored_columns
from bannergen.feedback.schema import IngestCounts, Listener
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

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,       -- commit order
    event_id TEXT NOT NULL UNIQUE,
    ts BIGINT NOT NULL,              -- microseconds since the epoch, UTC
    user_id TEXT NOT NULL,
    variant_id TEXT NOT NULL,
    event SMALLINT NOT NULL,         -- 0 impression, 1 click, 2 conversion
    value DOUBLE PRECISION NOT NULL,
    cost DOUBLE PRECISION NOT NULL,
    placement TEXT NOT NULL,
    propensity DOUBLE PRECISION,
    policy TEXT NOT NULL,
    unknown_variant SMALLINT,
    decision_id TEXT NOT NULL DEFAULT '',
    unknown_decision SMALLINT
);
CREATE INDEX IF NOT EXISTS events_clicks ON events (user_id, variant_id) WHERE event = 1;
CREATE TABLE IF NOT EXISTS rollup (
    variant_id TEXT NOT NULL,
    placement TEXT NOT NULL,
    policy TEXT NOT NULL,
    event SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    cost DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (variant_id, placement, policy, event)
);
CREATE TABLE IF NOT EXISTS behaviour (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    ts BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    event TEXT NOT NULL,
    item_id TEXT NOT NULL,
    query TEXT NOT NULL
);
""" + DECISION_TABLES.format(integer="BIGINT", real="DOUBLE PRECISION")
# Advisory lock keys: one per table whose writers must commit in seq order, one for the schema.
SCHEMA_LOCK, EVENTS_LOCK, BEHAVIOUR_LOCK = 7_240_001, 7_240_002, 7_240_003
CONNECT_TIMEOUT_S = 3

_INSERT_EVENTS = """
WITH new AS (
    INSERT INTO events (event_id, ts, user_id, variant_id, event, value, cost, placement, propensity, policy,
                        unknown_variant, decision_id, unknown_decision)
    SELECT event_id, ts, user_id, variant_id, event, value, cost, placement, propensity, policy, unknown_variant,
           decision_id, unknown_decision
    FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::smallint[], %s::float8[], %s::float8[],
                %s::text[], %s::float8[], %s::text[], %s::smallint[], %s::text[], %s::smallint[])
         WITH ORDINALITY AS s(event_id, ts, user_id, variant_id, event, value, cost, placement, propensity, policy,
                              unknown_variant, decision_id, unknown_decision, ord)
    ORDER BY ord
    ON CONFLICT (event_id) DO NOTHING
    RETURNING seq, variant_id, placement, policy, event, value, cost, unknown_variant, unknown_decision
)
SELECT variant_id, placement, policy, event, count(*), sum(value), sum(cost),
       sum(CASE WHEN unknown_variant = 1 THEN 1 ELSE 0 END), sum(CASE WHEN unknown_decision = 1 THEN 1 ELSE 0 END),
       min(seq), max(seq)
FROM new GROUP BY 1, 2, 3, 4
"""
_ROLLUP_UPSERT = ("INSERT INTO rollup VALUES (%s, %s, %s, %s, %s, %s, %s) "
                  "ON CONFLICT (variant_id, placement, policy, event) "
                  "DO UPDATE SET n = rollup.n + excluded.n, value = rollup.value + excluded.value, "
                  "cost = rollup.cost + excluded.cost")


def shown_url(url: str) -> str:
    """``url`` with any password masked, for messages and logs."""
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresDatabase:
    """One connection pool to a database, its schema created on first connect."""

    def __init__(self, url: str, pool: ConnectionPool) -> None:
        self.url = url
        self.pool = pool

    @classmethod
    def connect(cls, url: str, max_size: int = 4, wait_s: float = 10.0) -> PostgresDatabase:
        """Open a pool to ``url`` and create the tables; EnvironmentFailure when the database does not answer."""
        try:
            from psycopg_pool import ConnectionPool, PoolTimeout
        except ImportError as exc:  # pragma: no cover - a base dependency
            raise EnvironmentFailure("the PostgreSQL store needs psycopg and psycopg_pool",
                                     hint="pip install 'psycopg[binary]' psycopg-pool") from exc
        pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False, timeout=CONNECT_TIMEOUT_S,
                              check=ConnectionPool.check_connection, reconnect_timeout=float("inf"),
                              kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "bannergen"},
                              name="bannergen")
        try:
            pool.open(wait=True, timeout=wait_s)
        except PoolTimeout as exc:
            pool.close()
            raise EnvironmentFailure(f"cannot connect to the store {shown_url(url)} within {wait_s:g}s",
                                     hint="check [store] url / BANNERGEN_STORE_URL and that PostgreSQL runs") from exc
        db = cls(url, pool)
        with db.transaction("create the tables of") as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))  # workers start together
            conn.execute(SCHEMA)
        return db

    @contextmanager
    def transaction(self, action: str, lock: int | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection in one transaction (committed at the end of the block), with
        ``lock``'s advisory lock held; any database error becomes EnvironmentFailure."""
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self.pool.connection() as conn:
                if lock is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise EnvironmentFailure(f"cannot {action} the store {shown_url(self.url)}: "
                                     f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                                     hint="the database is unreachable or refused the statement") from exc

    def query(self, sql: str, params: Sequence = (), action: str = "read") -> list[tuple[Any, ...]]:
        """Rows of one statement written with ``?`` placeholders (as SQLite's)."""
        with self.transaction(action) as conn:
            return conn.execute(sql.replace("?", "%s"), tuple(params)).fetchall()

    def close(self) -> None:
        self.pool.close()


def database_rows(url: str, sql: str) -> list[tuple]:
    """The rows of one read (``?`` placeholders) on a short-lived connection, for commands that read
    once; EnvironmentFailure when the database cannot be reached. Tables not created yet read as empty."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            return conn.execute(sql.replace("?", "%s")).fetchall()
    except psycopg.errors.UndefinedTable:
        return []
    except psycopg.Error as exc:
        raise EnvironmentFailure(f"cannot read the store {shown_url(url)}: {str(exc).strip()}",
                                 hint="check [store] url / BANNERGEN_STORE_URL and that PostgreSQL runs") from exc


def rename_rows(db: PostgresDatabase, statements: Sequence[str], pairs: list[tuple[str, str]]) -> int:
    """Run each UPDATE (``?`` placeholders) for every (new, old) pair in one transaction; rows changed."""
    changed = 0
    with db.transaction("write to") as conn, conn.cursor() as cur:
        for sql in statements:
            cur.executemany(sql.replace("?", "%s"), pairs)
            changed += max(cur.rowcount, 0)
    return changed


class PostgresFeedbackStore(FeedbackQueries):
    """FeedbackStore on PostgreSQL (the reads are bannergen.feedback.queries, shared with SQLite)."""

    SEQ = "seq"

    def __init__(self, db: PostgresDatabase, owns_db: bool = False) -> None:
        self.db = db
        self.path = db.url  # what messages show as the store's location
        self._owns_db = owns_db
        self._listeners: list[Listener] = []
        self.own_commits: list[tuple[int, int]] = []

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self.db.query(sql, params)

    def add(self, events: pd.DataFrame, known_variants: frozenset[str] | None = None,
            known_decisions: frozenset[str] | None = None) -> IngestCounts:
        """As SQLiteStore.add: one transaction, first of a repeated event id wins, flags kept."""
        n = len(events)
        if n == 0:
            return IngestCounts()
        columns = stored_columns(events, known_variants, known_decisions)
        with self.db.transaction("write to", lock=EVENTS_LOCK) as conn:
            new = conn.execute(_INSERT_EVENTS, columns).fetchall()
            if new:
                with conn.cursor() as cur:
                    cur.executemany(_ROLLUP_UPSERT, [r[:7] for r in new])
        if new:
            self.own_commits.append((min(int(r[9]) for r in new) - 1, max(int(r[10]) for r in new)))
        self._notify(new)
        accepted = sum(int(r[4]) for r in new)
        return IngestCounts(accepted=accepted, duplicate=n - accepted,
                            unknown_variant=sum(int(r[7]) for r in new), unknown_decision=sum(int(r[8]) for r in new))

    def forget(self, pseudonyms: list[str]) -> int:
        """Delete these users' events (the rollup keeps its totals)."""
        with self.db.transaction("delete from") as conn:
            return conn.execute(FORGET_FEEDBACK.format(users="= ANY(%s)"), (list(pseudonyms),)).rowcount

    def rekey(self, pairs: list[tuple[str, str]]) -> int:
        """(new, old) pseudonym pairs: every event of old becomes new's (one transaction)."""
        return rename_rows(self.db, [REKEY_FEEDBACK], pairs)

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> PostgresFeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresBehaviourStore:
    """BehaviourStore on PostgreSQL (see bannergen.store.base)."""

    def __init__(self, db: PostgresDatabase, owns_db: bool = False) -> None:
        self.db = db
        self._owns_db = owns_db
        self.own_commits: list[tuple[int, int]] = []

    def add(self, events: list[BehaviourEvent]) -> list[BehaviourEvent]:
        if not events:
            return []
        columns = [[getattr(e, c) for e in events] for c in BEHAVIOUR_COLUMNS]
        with self.db.transaction("write behaviour to", lock=BEHAVIOUR_LOCK) as conn:
            rows = conn.execute(
                "INSERT INTO behaviour (event_id, ts, user_id, event, item_id, query) "
                "SELECT event_id, ts, user_id, event, item_id, query FROM unnest(%s::text[], %s::bigint[], "
                "%s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY "
                "AS s(event_id, ts, user_id, event, item_id, query, ord) ORDER BY ord "
                "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, seq", columns).fetchall()
        stored = {event_id for event_id, _ in rows}
        if rows:
            seqs = [int(seq) for _, seq in rows]
            self.own_commits.append((min(seqs) - 1, max(seqs)))
        new, seen = [], set()
        for e in events:
            if e.event_id in stored and e.event_id not in seen:
                seen.add(e.event_id)
                new.append(e)
        return new

    def all(self) -> list[BehaviourEvent]:
        rows = self.db.query(f"SELECT {', '.join(BEHAVIOUR_COLUMNS)} FROM behaviour ORDER BY seq")
        return [BehaviourEvent(*r) for r in rows]

    def last_seq(self) -> int:
        return int(self.db.query("SELECT coalesce(max(seq), 0) FROM behaviour")[0][0])

    def changes_since(self, seq: int, limit: int = 50_000) -> tuple[list[tuple[int, BehaviourEvent]], int]:
        rows = self.db.query(f"SELECT seq, {', '.join(BEHAVIOUR_COLUMNS)} FROM behaviour WHERE seq > ? "
                             "ORDER BY seq LIMIT ?", (seq, limit))
        return [(int(r[0]), BehaviourEvent(*r[1:])) for r in rows], (int(rows[-1][0]) if rows else seq)

    def log_decisions(self, rows: list[tuple], candidates: list[tuple] | None = None) -> None:
        if not rows:
            return
        with self.db.transaction("write the decision log to") as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO decisions (decision_id, ts, user_id, placement, size, variant_id, item_id, "
                            "template, policy, propensity, score, explanation) VALUES "
                            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows)
            if candidates:
                cur.executemany("INSERT INTO decision_candidates VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                                "ON CONFLICT DO NOTHING", candidates)

    def decision_log(self) -> pd.DataFrame:
        columns = ["decision_id", "user_id", "position", "item_id", "template", "antecedent_id", "score",
                   "probability", "chosen", "policy", "ts", "placement", "size"]
        frame = pd.DataFrame(self.db.query(DECISION_LOG_SQL), columns=columns)
        return frame.astype({"chosen": bool, "position": np.int64, "ts": np.int64, "probability": np.float64,
                             "score": np.float64})

    def decision(self, decision_id: str) -> tuple | None:
        rows = self.db.query("SELECT user_id, placement, variant_id, policy, propensity FROM decisions "
                             "WHERE decision_id = ?", (decision_id,))
        return rows[0] if rows else None

    def forget(self, pseudonyms: list[str]) -> Erased:
        """Delete these users' behaviour events and logged decisions (one transaction)."""
        users = (list(pseudonyms),)
        with self.db.transaction("delete from") as conn:
            candidates, decisions, behaviour = (conn.execute(sql.format(users="= ANY(%s)"), users).rowcount
                                                for sql in (*FORGET_DECISIONS, FORGET_BEHAVIOUR))
        return Erased(behaviour=behaviour, decisions=decisions, candidates=candidates)

    def rekey(self, pairs: list[tuple[str, str]]) -> int:
        """(new, old) pseudonym pairs: every behaviour event and decision of old becomes new's."""
        return rename_rows(self.db, REKEY_BEHAVIOUR, pairs)

    def compact(self, before_us: int) -> Erased:
        """Delete behaviour events and logged decisions older than ``before_us`` (one transaction)."""
        with self.db.transaction("delete from") as conn:
            candidates, decisions, behaviour = (conn.execute(sql.replace("?", "%s"), (before_us,)).rowcount
                                                for sql in (*COMPACT_DECISIONS, COMPACT_BEHAVIOUR))
        return Erased(behaviour=behaviour, decisions=decisions, candidates=candidates)

    def close(self) -> None:
        if self._owns_db:
            self.db.close()
