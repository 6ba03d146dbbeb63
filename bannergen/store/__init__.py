"""Where the service and the feedback commands keep their state: SQLite files (the embedded
default, no set-up) or one PostgreSQL database shared by every process (``[store] url`` in
bannergen.toml, or BANNERGEN_STORE_URL).

A location is a Path (SQLite: the feedback store and the behaviour store are two files) or a
``postgresql://`` URL (one database holds both). The interfaces are
bannergen.feedback.store.FeedbackStore and bannergen.store.base.BehaviourStore.

    >>> with open_feedback_store(project.feedback_location) as store:  # doctest: +SKIP
    ...     store.variant_counts()
"""

from __future__ import annotations

from pathlib import Path

from bannergen.feedback.store import FeedbackStore, open_store
from bannergen.store.base import BehaviourEvent, BehaviourStore

__all__ = ["BehaviourEvent", "BehaviourStore", "FeedbackStore", "is_database_url", "open_behaviour_store",
           "open_feedback_store"]

URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def open_feedback_store(location: Path | str, timeout: float = 5.0) -> FeedbackStore:
    """The FeedbackStore at ``location``: a SQLite file (``timeout``: seconds a write waits for a
    lock) or a PostgreSQL URL (a pool of its own, closed with the store)."""
    if is_database_url(location):
        from bannergen.store.postgres import PostgresDatabase, PostgresFeedbackStore

        return PostgresFeedbackStore(PostgresDatabase.connect(str(location)), owns_db=True)
    return open_store(Path(location), timeout=timeout)


def open_behaviour_store(location: Path | str) -> BehaviourStore:
    """The BehaviourStore at ``location`` (a SQLite file or a PostgreSQL URL)."""
    if is_database_url(location):
        from bannergen.store.postgres import PostgresBehaviourStore, PostgresDatabase

        return PostgresBehaviourStore(PostgresDatabase.connect(str(location)), owns_db=True)
    from bannergen.store.sqlite_behaviour import SQLiteBehaviourStore

    return SQLiteBehaviourStore(Path(location))
