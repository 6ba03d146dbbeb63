"""Transactions on the SQLite stores, and deleting rows so that their bytes are gone from the
files, not only from the tables: ``secure_delete`` overwrites the freed space with zeros, and a
TRUNCATE checkpoint copies the WAL into the database and empties it (the WAL holds the pages as
they were written). Used by both SQLite stores (bannergen.feedback.sqlite,
bannergen.store.sqlite_behaviour)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

CHUNK = 500  # placeholders per statement (SQLite allows 32,766; smaller keeps statements short)


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


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]


def erase_users(db: sqlite3.Connection, statements: Sequence[str], pseudonyms: Sequence[str]) -> list[int]:
    """Run each statement (``{users}`` standing for ``IN (?, ...)``) for ``pseudonyms`` in one
    transaction, then scrub; returns the rows each statement deleted."""
    counts = [0] * len(statements)
    db.execute("PRAGMA secure_delete = ON")
    with transaction(db) as tx:
        for chunk in _chunks(list(pseudonyms)):
            users = f"IN ({', '.join('?' * len(chunk))})"
            for n, sql in enumerate(statements):
                counts[n] += tx.execute(sql.format(users=users), tuple(chunk)).rowcount
    scrub(db)
    return counts


def erase_older(db: sqlite3.Connection, statements: Sequence[str], before_us: int) -> list[int]:
    """Run each statement (one ``?``: the cut-off time) in one transaction, then scrub."""
    db.execute("PRAGMA secure_delete = ON")
    with transaction(db) as tx:
        counts = [tx.execute(sql, (before_us,)).rowcount for sql in statements]
    scrub(db)
    return counts


def rename_users(db: sqlite3.Connection, statements: Sequence[str], pairs: Sequence[tuple[str, str]]) -> int:
    """Run each UPDATE statement for every (new, old) pair in one transaction, then scrub (the old
    values leave the files too); returns the rows changed."""
    db.execute("PRAGMA secure_delete = ON")
    changed = 0
    with transaction(db) as tx:
        for sql in statements:
            changed += tx.executemany(sql, pairs).rowcount
    scrub(db)
    return changed


def scrub(db: sqlite3.Connection) -> None:
    """Move the WAL into the database and truncate it (waits for readers up to the busy timeout)."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
